"""Docker's JSON shapes of a container's networking, read from the network store.

Container inspect's `NetworkSettings` (and its `Networks` entries) and the
`Ports` map, built from what `NetworkManager` persisted; nothing here decides.
"""

from __future__ import annotations

import hashlib
import ipaddress

from berth.errors import NotFound
from berth.network import nat
from berth.network.driver import NetworkRecord
from berth.network.store import EndpointRow, NetworkStore


def endpoint_settings(net: NetworkRecord, row: EndpointRow | None) -> dict:
    """One entry of NetworkSettings.Networks."""
    live = row is not None and row.ip is not None
    prefix = ipaddress.IPv4Network(net.subnet).prefixlen if net.subnet else 0
    return {
        "IPAMConfig": {"IPv4Address": row.requested_ip} if row and row.requested_ip else None,
        "Links": None,
        "Aliases": list(row.aliases) if row and row.aliases else None,
        "MacAddress": (row.mac or "") if row else "",
        "DriverOpts": None,
        "NetworkID": net.id,
        "EndpointID": row.endpoint_id if live else "",
        "Gateway": (net.gateway or "") if live else "",
        "IPAddress": row.ip if live else "",
        "IPPrefixLen": prefix if live else 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": [row.container_name, *row.aliases, row.container_id[:12]]
        if row and net.name != "bridge"
        else None,
    }


def mapping_dict(m: nat.PortMapping) -> dict:
    return {
        "proto": m.proto,
        "host_ip": m.host_ip,
        "host_port": m.host_port,
        "container_ip": m.container_ip,
        "container_port": m.container_port,
    }


def ports_view(applied: list[nat.PortMapping], _requests: object = None) -> dict:
    """NetworkSettings.Ports: {'80/tcp': [{'HostIp': '0.0.0.0', 'HostPort': '32768'}]}."""
    out: dict[str, list[dict[str, str]] | None] = {}
    for m in applied:
        out.setdefault(f"{m.container_port}/{m.proto}", []).append(
            {"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)}
        )
    return out


def ports_of(store: NetworkStore, container_id: str) -> dict[str, list[dict[str, str]] | None]:
    sb = store.sandbox(container_id)
    return ports_view([nat.PortMapping(**m) for m in sb.ports]) if sb else {}


def network_settings(store: NetworkStore, container_id: str, network_mode: str = "bridge") -> dict:
    """Container inspect's NetworkSettings; top-level fields mirror the default bridge."""
    sb = store.sandbox(container_id)
    networks: dict[str, dict] = {}
    mode = "bridge" if network_mode in ("", "default") else network_mode
    if mode in ("host", "none"):
        try:
            networks[mode] = endpoint_settings(store.find(mode), None)
        except NotFound:
            pass
    for row in store.endpoints(container_id=container_id):
        net = store.find(row.network_id)
        networks[net.name] = endpoint_settings(net, row)
    main = networks.get("bridge") or {}
    return {
        "Bridge": "",
        "SandboxID": hashlib.sha256(sb.netns_path.encode()).hexdigest()
        if sb and sb.netns_path
        else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_of(store, container_id),
        "SandboxKey": (sb.netns_path or "") if sb else "",
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": main.get("EndpointID", ""),
        "Gateway": main.get("Gateway", ""),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": main.get("IPAddress", ""),
        "IPPrefixLen": main.get("IPPrefixLen", 0),
        "IPv6Gateway": "",
        "MacAddress": main.get("MacAddress", ""),
        "Networks": networks,
    }

"""NetworkManager: networks, endpoints and container sandboxes, with their state.

This is the library the daemon's network service wraps. It owns the decisions
(validation, IPAM, which driver, which rules) and persists them through
`NetworkStore`; drivers and `netlink`/`nat`/`ports` do the kernel work.

Container lifecycle as the daemon drives it:
  create  -> `register_container(...)`   endpoints recorded, no address yet
  start   -> `setup(SandboxRequest)`     netns, addresses, veths, DNS, ports;
                                          returns `SandboxInfo` (netns path, files)
  exit    -> `teardown(container_id)`    everything above removed, addresses freed
  remove  -> `unregister_container(id)`  endpoints forgotten
A failure inside `setup` undoes what it did before raising: nothing half-created.
The start/exit half lives in berth/network/sandbox.py (`Sandboxes`); the
Docker-shaped views in berth/network/views.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import secrets
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from berth import timestamps
from berth.errors import Conflict, Forbidden, InvalidArgument, NotFound
from berth.network import hosts, ipam, nat, netlink, views
from berth.network.bridge import BridgeDriver, NullDriver
from berth.network.dns import DnsTable, EmbeddedDns
from berth.network.driver import Endpoint, NetworkRecord
from berth.network.plan import bridge_name_for, check_ifname, host_veth_name
from berth.network.sandbox import Sandboxes, SandboxInfo, SandboxRequest  # re-exported
from berth.network.store import EndpointRow, NetworkStore

log = logging.getLogger(__name__)

PREDEFINED = ("bridge", "host", "none")


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    """Typed settings from the daemon's entry point (daemon.json / flags)."""

    exec_root: Path
    host_netns: str | None = None  # None: the real host; tests pass a namespace
    default_bridge: str | None = "berth0"  # None: no default `bridge` network
    default_subnet: str | None = None  # like dockerd --bip's network
    iptables: bool = True
    chain_prefix: str = "BERTH"
    userland_proxy: bool = True
    dns: bool = True
    resolv_conf: Path = Path("/etc/resolv.conf")
    pools: tuple[tuple[str, int], ...] = ipam.DEFAULT_POOLS
    dns_port: int = 53


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    network: str
    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None


def _now() -> str:
    return timestamps.now()


def _new_id() -> str:
    return secrets.token_hex(32)


class NetworkManager:
    def __init__(self, conn, cfg: ManagerConfig) -> None:
        self.cfg = cfg
        self.store = NetworkStore(conn)
        self.lock = threading.RLock()  # one change of networking state at a time
        self.iptables = nat.Iptables(self.host_ns_path()) if cfg.iptables else None
        self.chains = nat.Chains(cfg.chain_prefix)
        self.drivers = {
            "bridge": BridgeDriver(
                host_netns=cfg.host_netns,
                iptables=self.iptables,
                chains=self.chains,
                userland_proxy=cfg.userland_proxy or self.iptables is None,
            ),
            "host": NullDriver("host"),
            "null": NullDriver("null"),
        }
        self.dns_table = DnsTable()
        self.sandboxes = Sandboxes(self)
        # one netlink handle on the host side for the manager's life (until close)
        netlink.keep_open(cfg.host_netns)
        self._netlink_kept = True
        try:
            self._ensure_predefined()
        except BaseException:
            self.close()
            raise

    def host_netns_file(self) -> str:
        """A path naming the host's network namespace (for `container:` of a host-mode container)."""
        return self.host_ns_path() or f"/proc/{os.getpid()}/ns/net"

    def host_ns_path(self) -> str | None:
        return None if self.cfg.host_netns is None else netlink.ns_path(self.cfg.host_netns)

    @property
    def netns_dir(self) -> Path:
        return self.cfg.exec_root / "netns"

    # -- networks -------------------------------------------------------------

    def _taken(self, exclude: str | None = None) -> list[ipaddress.IPv4Network]:
        """Subnets a new network must not overlap: other networks' and the host's routes."""
        taken = [
            ipaddress.IPv4Network(n.subnet)
            for n in self.store.networks()
            if n.subnet and n.id != exclude
        ]
        return taken + netlink.host_routes(self.cfg.host_netns)

    def _ensure_predefined(self) -> None:
        with self.lock:
            names = {n.name for n in self.store.networks()}
            if "host" not in names:
                self.store.add_network(
                    NetworkRecord(_new_id(), "host", "host", created=_now(), predefined=True)
                )
            if "none" not in names:
                self.store.add_network(
                    NetworkRecord(_new_id(), "none", "null", created=_now(), predefined=True)
                )
            if "bridge" not in names and self.cfg.default_bridge:
                cfg = ipam.configure(
                    self.cfg.default_subnet, None, None, taken=self._taken(), pools=self.cfg.pools
                )
                self.store.add_network(
                    NetworkRecord(
                        _new_id(),
                        "bridge",
                        "bridge",
                        subnet=str(cfg.subnet),
                        gateway=str(cfg.gateway),
                        ip_range=str(cfg.ip_range),
                        bridge=check_ifname(self.cfg.default_bridge),
                        options={
                            "com.docker.network.bridge.default_bridge": "true",
                            "com.docker.network.bridge.name": self.cfg.default_bridge,
                        },
                        created=_now(),
                        predefined=True,
                    )
                )

    def create_network(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        ip_range: str | None = None,
        internal: bool = False,
        attachable: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> NetworkRecord:
        """Validate, choose addresses, build the bridge, then record: all or nothing."""
        if not name or "/" in name or name.strip() != name:
            raise InvalidArgument(f"invalid network name {name!r}")
        if name in PREDEFINED:
            raise Forbidden(f"{name} is a pre-defined network and cannot be created")
        if driver != "bridge":
            if driver in ("host", "null"):
                raise Forbidden(f'only one instance of "{driver}" network is allowed')
            raise NotFound(f'plugin "{driver}" not found')
        options = dict(options or {})
        with self.lock:
            if any(n.name == name for n in self.store.networks()):
                raise Conflict(f"network with name {name} already exists")
            cfg = ipam.configure(
                subnet, gateway, ip_range, taken=self._taken(), pools=self.cfg.pools
            )
            net_id = _new_id()
            bridge = options.get("com.docker.network.bridge.name") or bridge_name_for(net_id)
            check_ifname(bridge)
            if any(n.bridge == bridge for n in self.store.networks()):
                raise Conflict(f"bridge name {bridge} is used by another network")
            if netlink.link_exists(bridge, self.cfg.host_netns):
                raise Conflict(f"interface {bridge} already exists on the host")
            net = NetworkRecord(
                id=net_id,
                name=name,
                driver=driver,
                subnet=str(cfg.subnet),
                gateway=str(cfg.gateway),
                ip_range=str(cfg.ip_range),
                internal=internal,
                attachable=attachable,
                labels=dict(labels or {}),
                options=options,
                bridge=bridge,
                created=_now(),
                masquerade=options.get("com.docker.network.bridge.enable_ip_masquerade", "true")
                != "false",
            )
            drv = self.drivers[driver]
            drv.create_network(net)
            try:
                self.store.add_network(net)
            except BaseException:
                drv.delete_network(net)
                raise
            return net

    def get(self, ref: str) -> NetworkRecord:
        return self.store.find(ref)

    def list(self) -> list[NetworkRecord]:
        return self.store.networks()

    def remove(self, ref: str) -> None:
        with self.lock:
            net = self.store.find(ref)
            if net.predefined:
                raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
            if self.store.endpoints(network_id=net.id):
                raise Forbidden(
                    f"error while removing network: network {net.name} id {net.id} has active endpoints"
                )
            self.drivers[net.driver].delete_network(net)
            self.store.delete_network(net.id)

    def prune(self, keep=lambda net: False) -> list[str]:
        """Remove every unused user-defined network not kept by `keep`."""
        removed = []
        for net in self.store.networks():
            if net.predefined or keep(net) or self.store.endpoints(network_id=net.id):
                continue
            with contextlib.suppress(Forbidden, NotFound):
                self.remove(net.id)
                removed.append(net.name)
        return removed

    def endpoints(self, ref: str) -> list[EndpointRow]:
        return self.store.endpoints(network_id=self.store.find(ref).id)

    # -- endpoints ------------------------------------------------------------

    def register_container(
        self, container_id: str, name: str, network_mode: str, endpoints: list[EndpointRequest] = ()
    ) -> None:
        """At create: check and record the container's networks (no address yet)."""
        mode = "bridge" if network_mode in ("", "default") else network_mode
        # clients name the mode's own network among the endpoints ("default", "host"...)
        requests = [
            replace(r, network="bridge") if r.network == "default" else r
            for r in endpoints
            if r.network not in (network_mode, "default", "host", "none")
            or r.aliases
            or r.ipv4_address
        ]
        if mode in ("host", "none") or mode.startswith("container:"):
            if requests:
                raise InvalidArgument(
                    f"container sharing {mode} network cannot be connected to networks"
                )
            return
        with self.lock:
            try:
                wanted = self.store.find(mode).id
                if not any(self.store.find(r.network).id == wanted for r in requests):
                    requests.insert(0, EndpointRequest(mode))
                for r in requests:
                    self.connect(
                        r.network, container_id, name, aliases=r.aliases, ip=r.ipv4_address
                    )
            except NotFound as e:
                # a 404 from container create means "no such image" to docker's CLI,
                # which would then try to pull: an unknown network is a bad parameter
                self._forget(container_id)
                raise InvalidArgument(e.message) from None
            except BaseException:
                self._forget(container_id)
                raise

    def _forget(self, container_id: str) -> None:
        for ep in self.store.endpoints(container_id=container_id):
            self.store.delete_endpoint(ep.network_id, container_id)

    def unregister_container(self, container_id: str) -> None:
        with self.lock:
            self.teardown(container_id)
            for ep in self.store.endpoints(container_id=container_id):
                self.store.delete_endpoint(ep.network_id, container_id)

    def connect(
        self,
        ref: str,
        container_id: str,
        name: str,
        *,
        aliases: tuple[str, ...] = (),
        ip: str | None = None,
    ) -> EndpointRow:
        """Record an endpoint; join the running sandbox now if there is one."""
        with self.lock:
            net = self.store.find(ref)
            if net.driver in ("host", "null"):
                raise Forbidden(
                    f"container cannot be disconnected/connected to network {net.name} ({net.driver})"
                )
            existing = {e.network_id for e in self.store.endpoints(container_id=container_id)}
            if net.id in existing:
                raise Forbidden(f"endpoint with name {name} already exists in network {net.name}")
            if ip is not None:
                if net.name == "bridge":
                    raise InvalidArgument(
                        "user specified IP address is supported on user defined networks only"
                    )
                cfg = self._ipam(net)
                ipam.check_requested(
                    cfg,
                    ipam.parse_address(ip),
                    {ipaddress.IPv4Address(a) for a in self.store.used_ips(net.id)},
                )
            if aliases and net.name == "bridge":
                raise InvalidArgument(
                    "network-scoped aliases are supported only for user defined networks"
                )
            ifname = f"eth{len(existing)}"
            row = EndpointRow(
                network_id=net.id,
                container_id=container_id,
                container_name=name.lstrip("/"),
                aliases=tuple(aliases),
                requested_ip=ip,
                ifname=ifname,
                host_ifname=host_veth_name(net.id, container_id),
                endpoint_id=hashlib.sha256(
                    f"{net.id}/{container_id}/{_now()}".encode()
                ).hexdigest(),
            )
            self.store.put_endpoint(row)
            sb = self.store.sandbox(container_id)
            if sb is not None and sb.mode == "netns" and sb.netns_path:
                try:
                    self.join_endpoint(net, row, sb.netns_path, default_route=not existing)
                except BaseException:
                    self.store.delete_endpoint(net.id, container_id)
                    raise
                if self.cfg.dns and net.name != "bridge" and not sb.dns:
                    self.sandboxes.attach_dns(container_id, sb)
            return row

    def disconnect(self, ref: str, container_id: str, *, force: bool = False) -> None:
        with self.lock:
            net = self.store.find(ref)
            eps = [
                e for e in self.store.endpoints(network_id=net.id) if e.container_id == container_id
            ]
            if not eps:
                if force:
                    return
                raise NotFound(
                    f"container {container_id[:12]} is not connected to network {net.name}"
                )
            self.leave_endpoint(net, eps[0])
            self.store.delete_endpoint(net.id, container_id)

    def _ipam(self, net: NetworkRecord) -> ipam.IpamConfig:
        return ipam.configure(net.subnet, net.gateway, net.ip_range, taken=[])

    def _allocate(self, net: NetworkRecord, ep: EndpointRow) -> EndpointRow:
        """Give `ep` an address. The manager's lock serialises allocations in berthd and
        the unique (network, ip) index refuses a duplicate whatever happens; no
        explicit transaction, because the daemon shares this SQLite connection."""
        cfg = self._ipam(net)
        with self.lock:
            used = {ipaddress.IPv4Address(a) for a in self.store.used_ips(net.id)}
            if ep.requested_ip:
                addr = ipam.check_requested(cfg, ipam.parse_address(ep.requested_ip), used)
            else:
                last = self.store.last_ip(net.id)
                addr = ipam.next_address(cfg, used, ipaddress.IPv4Address(last) if last else None)
                self.store.set_last_ip(net.id, str(addr))
            ep = replace(ep, ip=str(addr), mac=ipam.mac_for(addr))
            self.store.put_endpoint(ep)
        return ep

    def join_endpoint(
        self, net: NetworkRecord, row: EndpointRow, netns_path: str, *, default_route: bool
    ) -> EndpointRow:
        row = self._allocate(net, row)
        ep = self._endpoint(net, row)
        try:
            self.drivers[net.driver].join(net, ep, netns_path, default_route=default_route)
        except BaseException:
            self.store.put_endpoint(replace(row, ip=None, mac=None))
            raise
        names = [row.container_name, *row.aliases, row.container_id[:12]]
        self.dns_table.add(net.id, net.name, row.container_id, names, row.ip)
        return row

    def leave_endpoint(
        self, net: NetworkRecord, row: EndpointRow, *, namespace_goes: bool = False
    ) -> None:
        """Detach one endpoint. When its namespace is about to be deleted, the kernel
        destroys the veth pair with it, so the (slow, synchronous) delete is skipped."""
        self.dns_table.remove(net.id, row.container_id)
        if row.ip:
            sb = self.store.sandbox(row.container_id)
            if not namespace_goes:
                self.drivers[net.driver].leave(
                    net, self._endpoint(net, row), sb.netns_path if sb else None
                )
            self.store.put_endpoint(replace(row, ip=None, mac=None))

    def _endpoint(self, net: NetworkRecord, row: EndpointRow) -> Endpoint:
        prefix = ipaddress.IPv4Network(net.subnet).prefixlen if net.subnet else None
        return Endpoint(
            network_id=net.id,
            container_id=row.container_id,
            container_name=row.container_name,
            ip=row.ip,
            prefixlen=prefix,
            gateway=net.gateway,
            mac=row.mac,
            ifname=row.ifname,
            host_ifname=row.host_ifname,
            aliases=row.aliases,
            id=row.endpoint_id,
        )

    # -- sandboxes (berth.network.sandbox) -----------------------------------

    def sandbox_path(self, container_id: str) -> str | None:
        return self.sandboxes.path(container_id)

    def setup(self, req: SandboxRequest) -> SandboxInfo:
        """Build the container's network before it starts; undo everything on failure."""
        return self.sandboxes.setup(req)

    def teardown(self, container_id: str) -> None:
        """Remove the sandbox, veths, rules, proxy and DNS of a container (idempotent)."""
        self.sandboxes.teardown(container_id)

    def restore(self, running: set[str]) -> None:
        """After a daemon restart: rebuild bridges and DNS for running containers, drop the rest."""
        self.sandboxes.restore(running)

    @property
    def dns(self) -> EmbeddedDns | None:
        return self.sandboxes.dns

    def close(self) -> None:
        self.sandboxes.close()
        if self._netlink_kept:
            self._netlink_kept = False
            netlink.release(self.cfg.host_netns)

    def shutdown_host_state(self) -> None:
        """Remove every bridge and berth's chains (tests, `berthd --cleanup`); keeps records."""
        with self.lock:
            for sb in self.store.sandboxes():
                self.teardown(sb.container_id)
            chains = self.iptables is not None and self.iptables.chain_exists(
                "nat", self.chains.dnat
            )
            for net in self.store.networks():
                if chains:
                    self.drivers[net.driver].delete_network(net)
                elif net.bridge:  # no rules were ever made: only links to remove
                    netlink.delete_link(net.bridge, self.cfg.host_netns)
            if chains:
                self.iptables.teardown(self.chains)
            netlink.release_dir(self.netns_dir)
            self.close()

    def host_resolv(self) -> hosts.ResolvConf:
        return hosts.parse_resolv_conf(_read(self.cfg.resolv_conf))

    # -- views (Docker's JSON shapes, in berth.network.views) -----------------

    def network_settings(self, container_id: str, network_mode: str = "bridge") -> dict:
        """Container inspect's NetworkSettings, in Docker's shape."""
        return views.network_settings(self.store, container_id, network_mode)

    def ports_of(self, container_id: str) -> dict[str, list[dict[str, str]] | None]:
        return views.ports_of(self.store, container_id)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""

"""Netlink plans for the bridge driver, computed as data before anything is done.

A plan names every interface, address and route the driver will create, so a
unit test can check the decisions (names within IFNAMSIZ, the MAC derived from
the address, no default route on an internal network) without root.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.network.driver import Endpoint, NetworkRecord

IFNAMSIZ = 15  # longest interface name the kernel accepts


@dataclass(frozen=True, slots=True)
class BridgePlan:
    name: str
    address: str  # gateway/prefixlen
    mtu: int


@dataclass(frozen=True, slots=True)
class VethPlan:
    bridge: str
    host_ifname: str
    ctr_ifname: str
    mac: str
    address: str
    prefixlen: int
    gateway: str | None  # default route; None on internal networks or secondary networks
    mtu: int


def bridge_name_for(net_id: str) -> str:
    return f"bt-{net_id[:12]}"


def check_ifname(name: str) -> str:
    if (
        not name
        or len(name) > IFNAMSIZ
        or "/" in name
        or name.strip() != name
        or name in (".", "..")
    ):
        raise InvalidArgument(
            f"invalid interface name {name!r}: 1-{IFNAMSIZ} characters, no '/' or spaces"
        )
    return name


def host_veth_name(network_id: str, container_id: str) -> str:
    """A stable, unique host-side name: 'bt' + 11 hex characters."""
    digest = hashlib.sha256(f"{network_id}/{container_id}".encode()).hexdigest()
    return "bt" + digest[:11]


def plan_bridge(net: NetworkRecord, mtu: int = 1500) -> BridgePlan:
    if not (net.bridge and net.subnet and net.gateway):
        raise InvalidArgument(f"network {net.name} has no bridge, subnet or gateway")
    prefix = ipaddress.ip_network(net.subnet).prefixlen
    return BridgePlan(name=check_ifname(net.bridge), address=f"{net.gateway}/{prefix}", mtu=mtu)


def plan_veth(
    net: NetworkRecord, ep: Endpoint, *, default_route: bool, mtu: int = 1500
) -> VethPlan:
    if not (net.bridge and ep.ip and ep.prefixlen and ep.mac and ep.host_ifname):
        raise InvalidArgument(f"endpoint of {ep.container_name} on {net.name} is incomplete")
    return VethPlan(
        bridge=net.bridge,
        host_ifname=check_ifname(ep.host_ifname),
        ctr_ifname=check_ifname(ep.ifname),
        mac=ep.mac,
        address=ep.ip,
        prefixlen=ep.prefixlen,
        gateway=None if (net.internal or not default_route) else net.gateway,
        mtu=mtu,
    )

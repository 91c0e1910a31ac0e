"""IP address management: pure decisions about subnets and addresses.

Nothing here touches the kernel or the database: the network service passes in
what is taken (host routes, other networks' subnets, addresses in use, the last
address handed out) and persists what comes back. Addresses are handed out
round-robin from after the last one given, so an address freed by a removed
container is not reused until the range wraps, as Docker does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from berth.errors import Forbidden, InvalidArgument, NotImplementedYet, Unavailable

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

# Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (
    ("172.17.0.0/16", 16),
    ("172.18.0.0/15", 16),
    ("172.20.0.0/14", 16),
    ("172.24.0.0/13", 16),
    ("192.168.0.0/16", 20),
)


@dataclass(frozen=True, slots=True)
class IpamConfig:
    """A network's validated IPAM settings."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network

    def as_dict(self) -> dict[str, str]:
        return {
            "Subnet": str(self.subnet),
            "Gateway": str(self.gateway),
            "IPRange": str(self.ip_range),
        }


def parse_network(text: str, what: str = "subnet") -> IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise InvalidArgument(f"invalid {what} {text}: {e}") from None
    if not isinstance(net, IPv4Network):
        raise NotImplementedYet(f"IPv6 {what} {text} is not supported")
    return net


def parse_address(text: str, what: str = "address") -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if not isinstance(addr, IPv4Address):
        raise NotImplementedYet(f"IPv6 {what} {text} is not supported")
    return addr


def configure(
    subnet: str | None,
    gateway: str | None,
    ip_range: str | None,
    *,
    taken: Iterable[IPv4Network],
    pools: Iterable[tuple[str, int]] = DEFAULT_POOLS,
) -> IpamConfig:
    """Validate explicit settings or choose a free subnet; refuse overlaps.

    `taken` holds other networks' subnets and the host's routes: an explicit
    subnet overlapping one of them is Forbidden (Docker's 403), a chosen one avoids them all.
    """
    taken = list(taken)
    if subnet is None:
        if gateway or ip_range:
            raise InvalidArgument("gateway and ip-range need an explicit subnet")
        net = choose_subnet(taken, pools)
    else:
        net = parse_network(subnet)
        if net.prefixlen > 30:
            raise InvalidArgument(f"subnet {net} is too small: at most /30")
        for other in taken:
            if net.overlaps(other):
                raise Forbidden(
                    f"Pool overlaps with other one on this address space: {net} overlaps {other}"
                )
    if gateway is None:
        gw = net.network_address + 1
    else:
        gw = parse_address(gateway, "gateway")
        if gw not in net or gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(
                f"no matching subnet for gateway {gw}: not a host address of {net}"
            )
    if ip_range is None:
        rng = net
    else:
        rng = parse_network(ip_range, "ip-range")
        if not rng.subnet_of(net):
            raise InvalidArgument(f"ip-range {rng} is not inside subnet {net}")
    return IpamConfig(subnet=net, gateway=gw, ip_range=rng)


def choose_subnet(
    taken: Iterable[IPv4Network], pools: Iterable[tuple[str, int]] = DEFAULT_POOLS
) -> IPv4Network:
    """The first pool subnet overlapping nothing in `taken`."""
    taken = list(taken)
    for base, prefixlen in pools:
        for candidate in ipaddress.ip_network(base).subnets(new_prefix=prefixlen):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate  # type: ignore[return-value]
    raise Unavailable("could not find an available, non-overlapping IPv4 address pool")


def usable(cfg: IpamConfig, addr: IPv4Address) -> bool:
    return (
        addr in cfg.ip_range
        and addr != cfg.subnet.network_address
        and addr != cfg.subnet.broadcast_address
        and addr != cfg.gateway
    )


def check_requested(cfg: IpamConfig, addr: IPv4Address, in_use: set[IPv4Address]) -> IPv4Address:
    """Validate a static address (`--ip`) against the network and addresses in use."""
    if addr not in cfg.subnet:
        raise InvalidArgument(
            f"invalid address {addr}: it does not belong to any of this network's subnets ({cfg.subnet})"
        )
    if addr in (cfg.subnet.network_address, cfg.subnet.broadcast_address, cfg.gateway):
        raise InvalidArgument(f"invalid address {addr}: reserved in {cfg.subnet}")
    if addr in in_use:
        raise Forbidden(f"Address already in use: {addr}")
    return addr


def next_address(
    cfg: IpamConfig, in_use: set[IPv4Address], last: IPv4Address | None
) -> IPv4Address:
    """The next free address after `last`, wrapping once around the range."""
    first = int(cfg.ip_range.network_address)
    end = int(cfg.ip_range.broadcast_address)
    size = end - first + 1
    start = int(last) + 1 if last is not None and first <= int(last) < end else first
    for i in range(size):
        cand = IPv4Address(first + (start - first + i) % size)
        if usable(cfg, cand) and cand not in in_use:
            return cand
    raise Unavailable(f"no available IPv4 addresses on this network's address pools: {cfg.subnet}")


def mac_for(addr: IPv4Address) -> str:
    """Docker's MAC scheme: 02:42 followed by the four bytes of the address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)

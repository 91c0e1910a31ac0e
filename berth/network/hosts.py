"""Contents of a container's /etc/hosts and /etc/resolv.conf, as Docker writes them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from berth.errors import InvalidArgument

EMBEDDED_DNS = "127.0.0.11"
FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")

_BASE = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def parse_extra_host(spec: str) -> tuple[str, str]:
    """`--add-host name:ip` (also `name=ip`) -> (name, ip)."""
    sep = "=" if "=" in spec else ":"
    name, _, ip = spec.partition(sep)
    if not name or not ip:
        raise InvalidArgument(f"invalid argument {spec!r} for --add-host: expected host:ip")
    if ip == "host-gateway":
        return name, ip
    try:
        ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        raise InvalidArgument(f"invalid IP address in add-host: {ip!r}") from None
    return name, ip.strip("[]")


def hosts_file(
    hostname: str,
    addresses: Iterable[str],
    *,
    domainname: str = "",
    extra_hosts: Iterable[str] = (),
    host_gateway: str | None = None,
) -> str:
    """/etc/hosts: the localhost entries, the container's own names, then --add-host."""
    lines = [_BASE]
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for addr in addresses:
        lines.append(f"{addr}\t{names}\n")
    for spec in extra_hosts:
        name, ip = parse_extra_host(spec)
        if ip == "host-gateway":
            if host_gateway is None:
                raise InvalidArgument("host-gateway is not known for this container")
            ip = host_gateway
        lines.append(f"{ip}\t{name}\n")
    return "".join(lines)


@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    options: tuple[str, ...]


def parse_resolv_conf(text: str) -> ResolvConf:
    ns: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            ns.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return ResolvConf(tuple(ns), tuple(search), tuple(options))


def _render(ns: Iterable[str], search: Iterable[str], options: Iterable[str]) -> str:
    out = [f"nameserver {n}\n" for n in ns]
    if search := list(search):
        out.append("search " + " ".join(search) + "\n")
    if options := list(options):
        out.append("options " + " ".join(options) + "\n")
    return "".join(out)


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_conf(
    host: ResolvConf,
    *,
    embedded: bool,
    dns: Iterable[str] = (),
    dns_search: Iterable[str] = (),
    dns_options: Iterable[str] = (),
) -> str:
    """The container's resolv.conf.

    On user-defined networks the embedded server answers (it forwards to `dns` or
    the host's servers); otherwise the host's servers are copied, minus loopback
    ones that mean nothing inside the container, with Google's as Docker's fallback.
    """
    search = list(dns_search) or list(host.search)
    options = list(dns_options) or list(host.options)
    if embedded:
        if "ndots:0" not in options and not any(o.startswith("ndots:") for o in options):
            options.insert(0, "ndots:0")
        return _render([EMBEDDED_DNS], search, options)
    servers = list(dns) or [n for n in host.nameservers if not _is_loopback(n)]
    return _render(servers or FALLBACK_DNS, search, options)


def upstreams(host: ResolvConf, dns: Iterable[str] = ()) -> list[tuple[str, int]]:
    """Where the embedded server forwards names it does not know."""
    servers = list(dns) or list(host.nameservers) or list(FALLBACK_DNS)
    return [(s, 53) for s in servers]

"""Which registry endpoints to talk to, and how: settings that arrive as arguments.

The daemon's entry point turns `registry-mirrors`, `insecure-registries` and
TLS options into one `RegistryOptions`; everything below takes it as a typed
argument. As in Docker, 127.0.0.0/8 (and `localhost`) are insecure by default:
berth tries HTTPS without verification and falls back to plain HTTP there.
Mirrors are used only for Docker Hub, in order, before Hub itself.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

HUB_DOMAIN = "docker.io"
HUB_ENDPOINT = "registry-1.docker.io"
HUB_INDEX = "index.docker.io"


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    insecure_registries: tuple[str, ...] = ()  # hosts ("h:5000") or CIDRs ("10.0.0.0/8")
    mirrors: tuple[str, ...] = ()  # URLs ("https://mirror.example"), Docker Hub only
    ca_file: str | None = None
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place to send a registry's requests."""

    host: str  # host[:port], what goes into URLs
    secure: bool = True  # False: TLS unverified, then plain HTTP
    mirror: bool = False
    schemes: tuple[str, ...] = field(default=("https",))


DEFAULT_INSECURE = ("127.0.0.0/8", "::1/128")


def is_insecure(host: str, options: RegistryOptions) -> bool:
    """Is `host` (with or without port) insecure by configuration or by default?"""
    if host in options.insecure_registries:
        return True
    bare = host
    if bare.startswith("["):
        bare = bare[1 : bare.index("]")]
    elif bare.count(":") == 1:
        bare = bare.split(":", 1)[0]
    if bare == "localhost":
        return True
    if bare in options.insecure_registries:
        return True
    try:
        addr = ipaddress.ip_address(bare)
    except ValueError:
        return False
    for cidr in (*DEFAULT_INSECURE, *options.insecure_registries):
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def endpoints(domain: str, options: RegistryOptions) -> list[Endpoint]:
    """Endpoints to try for a reference's domain, in order."""
    if domain in (HUB_DOMAIN, HUB_INDEX):
        out = []
        for url in options.mirrors:
            scheme, _, rest = url.partition("://")
            host = rest.rstrip("/") if rest else scheme
            insecure = scheme == "http" or is_insecure(host, options)
            out.append(_endpoint(host, insecure, mirror=True))
        out.append(Endpoint(HUB_ENDPOINT))
        return out
    return [_endpoint(domain, is_insecure(domain, options))]


def _endpoint(host: str, insecure: bool, mirror: bool = False) -> Endpoint:
    if insecure:
        return Endpoint(host, secure=False, mirror=mirror, schemes=("https", "http"))
    return Endpoint(host, mirror=mirror)


def registry_config(mirrors: tuple[str, ...], insecure: tuple[str, ...]) -> dict:
    """`RegistryConfig` of the Engine API's `GET /info`, from the daemon's settings."""
    cidrs, hosts = ["127.0.0.0/8"], []
    for item in insecure:
        try:
            cidrs.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            hosts.append(item)
    index = {
        HUB_DOMAIN: {"Name": HUB_DOMAIN, "Mirrors": list(mirrors), "Secure": True, "Official": True}
    }
    for host in hosts:
        index[host] = {"Name": host, "Mirrors": [], "Secure": False, "Official": False}
    return {
        "AllowNondistributableArtifactsCIDRs": [],
        "AllowNondistributableArtifactsHostnames": [],
        "InsecureRegistryCIDRs": list(dict.fromkeys(cidrs)),
        "IndexConfigs": index,
        "Mirrors": list(mirrors),
    }

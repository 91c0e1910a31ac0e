"""The daemon's network service: Docker's network verbs and the container hooks.

It wraps `berth.network.manager.NetworkManager` (the decisions and kernel work)
with what only the daemon knows: which container a name refers to, and events.
Routes in berth/api/networks.py reach it as `daemon.service("networks")`; as a
`ContainerHook` it builds each container's network namespace before start
(`ctx.netns_path`, /etc/hosts, /etc/resolv.conf), removes it after the process
ends, and fills NetworkSettings in inspect.

Options read from the daemon's typed options when present (else the default):
`bridge` ("berth0"; "none" disables the default network), `bip` (the default
network's subnet), `iptables` (True), `userland_proxy` (None: kernel DNAT for
loopback, see `manager_config`). A daemon with a non-default exec root gets its
own bridge and chain names derived from that path, so test daemons running side
by side never share host objects.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from berth.daemon.hooks import ContainerHook, ContainerInfo, StartContext
from berth.errors import Forbidden, InvalidArgument
from berth.network.driver import NetworkRecord
from berth.network.manager import EndpointRequest, ManagerConfig, NetworkManager, SandboxRequest
from berth.network.store import EndpointRow

log = logging.getLogger(__name__)


class ContainerLookup(Protocol):
    def resolve(self, ref: str) -> tuple[str, str]:
        """(full id, name without '/') of the container `ref`, or raise NotFound."""


Emit = Callable[[str, str, dict[str, str]], None]  # (action, network id, attributes)


@dataclass(frozen=True, slots=True)
class NetworkView:
    """A network with its endpoints, for inspect and list."""

    net: NetworkRecord
    endpoints: list[EndpointRow]


def _matches(values: list[str], candidate: str, *, prefix: bool = False) -> bool:
    return any(
        candidate == v or (prefix and candidate.startswith(v)) or (not prefix and v in candidate)
        for v in values
    )


def filter_networks(views: list[NetworkView], filters: dict[str, list[str]]) -> list[NetworkView]:
    """Docker's network filters: name (substring), id (prefix), driver, label, type, dangling."""
    out = []
    for v in views:
        n = v.net
        if "name" in filters and not _matches(filters["name"], n.name):
            continue
        if "id" in filters and not _matches(filters["id"], n.id, prefix=True):
            continue
        if "driver" in filters and n.driver not in filters["driver"]:
            continue
        if "type" in filters:
            kind = "builtin" if n.predefined else "custom"
            bad = [t for t in filters["type"] if t not in ("builtin", "custom")]
            if bad:
                raise InvalidArgument(f"invalid filter: 'type'='{bad[0]}'")
            if kind not in filters["type"]:
                continue
        if "label" in filters and not all(_label_match(n.labels, f) for f in filters["label"]):
            continue
        if "dangling" in filters:
            want = filters["dangling"][0].lower() in ("1", "true")
            if want != (not v.endpoints and not n.predefined):
                continue
        out.append(v)
    return out


def _label_match(labels: dict[str, str], f: str) -> bool:
    key, eq, value = f.partition("=")
    return key in labels and (not eq or labels[key] == value)


class NetworkService(ContainerHook):
    def __init__(
        self,
        manager: NetworkManager,
        containers: ContainerLookup | None = None,
        emit: Emit | None = None,
    ):
        self.manager = manager
        self.containers = containers
        self._emit = emit or (lambda action, net_id, attrs: None)
        self.default_dns: tuple[str, ...] = ()

    # -- verbs of /networks ---------------------------------------------------

    def create(self, name: str, **kw) -> NetworkRecord:
        net = self.manager.create_network(name, **kw)
        self._emit("create", net.id, {"name": net.name, "type": net.driver})
        return net

    def inspect_network(self, ref: str) -> NetworkView:
        net = self.manager.get(ref)
        return NetworkView(net, self.manager.endpoints(net.id))

    def list(self, filters: dict[str, list[str]] | None = None) -> list[NetworkView]:
        views = [NetworkView(n, self.manager.endpoints(n.id)) for n in self.manager.list()]
        return filter_networks(views, filters or {})

    def remove(self, ref: str) -> None:
        net = self.manager.get(ref)
        self.manager.remove(net.id)
        self._emit("destroy", net.id, {"name": net.name, "type": net.driver})

    def prune(self, filters: dict[str, list[str]] | None = None) -> list[str]:
        filters = dict(filters or {})
        labels = filters.pop("label", [])
        nolabels = filters.pop("label!", [])
        for key in filters:
            if key != "until":
                raise InvalidArgument(f"invalid filter '{key}'")

        def keep(net: NetworkRecord) -> bool:
            if labels and not all(_label_match(net.labels, f) for f in labels):
                return True
            return bool(nolabels) and any(_label_match(net.labels, f) for f in nolabels)

        return self.manager.prune(keep)

    def _container(self, ref: str) -> tuple[str, str]:
        if self.containers is None:
            raise InvalidArgument("no container service to resolve container references")
        return self.containers.resolve(ref)

    def connect(
        self, ref: str, container: str, *, aliases: tuple[str, ...] = (), ip: str | None = None
    ) -> None:
        cid, name = self._container(container)
        net = self.manager.get(ref)
        self.manager.connect(net.id, cid, name, aliases=aliases, ip=ip or None)
        self._emit("connect", net.id, {"name": net.name, "type": net.driver, "container": cid})

    def disconnect(self, ref: str, container: str, *, force: bool = False) -> None:
        cid, _name = self._container(container)
        net = self.manager.get(ref)
        if net.driver in ("host", "null"):
            raise Forbidden(f"container cannot be disconnected from network {net.name}")
        self.manager.disconnect(net.id, cid, force=force)
        self._emit("disconnect", net.id, {"name": net.name, "type": net.driver, "container": cid})

    # -- container hooks ------------------------------------------------------

    def on_create(self, info: ContainerInfo) -> None:
        """Record the container's networks from HostConfig.NetworkMode and NetworkingConfig."""
        mode = self._mode(info.host_config.get("NetworkMode") or "default")
        requests = []
        endpoints = (info.networking_config or {}).get("EndpointsConfig") or {}
        for net_ref, cfg in endpoints.items():
            cfg = cfg or {}
            ipam = cfg.get("IPAMConfig") or {}
            requests.append(
                EndpointRequest(
                    net_ref, tuple(cfg.get("Aliases") or ()), ipam.get("IPv4Address") or None
                )
            )
        self.manager.register_container(info.id, info.name.lstrip("/"), mode, requests)

    def _mode(self, mode: str) -> str:
        if mode.startswith("container:"):
            return "container:" + self._container(mode.split(":", 1)[1])[0]
        if mode in ("", "default") and self.manager.cfg.default_bridge is None:
            return "none"  # berthd --bridge=none: as dockerd, containers get loopback only
        return mode

    def before_start(self, ctx: StartContext) -> None:
        info = ctx.info
        cfg, hc = info.config, info.host_config
        sandbox = self.manager.setup(
            SandboxRequest(
                container_id=info.id,
                name=info.name.lstrip("/"),
                hostname=cfg.get("Hostname") or info.id[:12],
                network_mode=self._mode(hc.get("NetworkMode") or "default"),
                domainname=cfg.get("Domainname") or "",
                port_bindings=hc.get("PortBindings") or {},
                exposed_ports=cfg.get("ExposedPorts") or {},
                publish_all=bool(hc.get("PublishAllPorts")),
                dns=tuple(hc.get("Dns") or self.default_dns),
                dns_search=tuple(hc.get("DnsSearch") or ()),
                dns_options=tuple(hc.get("DnsOptions") or ()),
                extra_hosts=tuple(hc.get("ExtraHosts") or ()),
            )
        )
        ctx.netns_path = sandbox.netns_path
        ctx.hosts = sandbox.hosts
        ctx.resolv_conf = sandbox.resolv_conf

    def after_stop(self, container_id: str) -> None:
        self.manager.teardown(container_id)

    def on_remove(self, container_id: str, remove_volumes: bool = False) -> None:
        self.manager.unregister_container(container_id)

    def inspect(self, container_id: str, doc: dict) -> None:
        """Fill an inspect document, or a list entry (which has "Names" and short shapes)."""
        mode = self._mode((doc.get("HostConfig") or {}).get("NetworkMode") or "default")
        settings = self.manager.network_settings(container_id, mode)
        if "Names" not in doc:
            doc["NetworkSettings"] = settings
            return
        doc["NetworkSettings"] = {"Networks": settings["Networks"]}
        doc["Ports"] = list_ports(settings["Ports"])

    def restore(self, running: set[str]) -> None:
        self.manager.restore(running)

    def close(self) -> None:
        """Stop DNS; with no sandbox left (no live container), also remove bridges and chains."""
        if self.manager.store.sandboxes():
            self.manager.close()
        else:
            self.manager.shutdown_host_state()


def list_ports(ports: dict[str, list[dict[str, str]] | None]) -> list[dict]:
    """NetworkSettings.Ports -> the "Ports" array of GET /containers/json."""
    out = []
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        for b in bindings or [None]:
            entry: dict = {"PrivatePort": int(port), "Type": proto or "tcp"}
            if b:
                entry = {
                    "IP": b["HostIp"],
                    "PrivatePort": int(port),
                    "PublicPort": int(b["HostPort"]),
                    "Type": proto,
                }
            out.append(entry)
    return out


class _Containers:
    """ContainerLookup over the daemon's container service."""

    def __init__(self, service) -> None:
        self.service = service

    def resolve(self, ref: str) -> tuple[str, str]:
        c = self.service.get(ref)
        return c.id, c.name.lstrip("/")


def _names_for(exec_root: Path) -> tuple[str, str]:
    """Bridge and chain prefix: berth's own for the default exec root, derived otherwise."""
    if exec_root == Path("/run/berth"):
        return "berth0", "BERTH"
    tag = hashlib.sha256(str(exec_root).encode()).hexdigest()[:8]
    return f"bt{tag}0", f"BT{tag.upper()}"


def manager_config(exec_root: Path, opts) -> ManagerConfig:
    """The manager's settings from the daemon's options (dockerd's names).

    `userland_proxy` None (not set by flag or daemon.json) means berth's default:
    loopback connections to published ports through kernel DNAT, the proxy only
    holding the ports and serving what DNAT does not (a container reaching a
    published port through a host address). True is Docker's default (loopback
    through the proxy); False is the same as None.
    """
    bridge_default, prefix = _names_for(exec_root)
    bridge = getattr(opts, "bridge", None) or bridge_default
    proxy = getattr(opts, "userland_proxy", None)
    return ManagerConfig(
        exec_root=exec_root,
        default_bridge=None if bridge == "none" else bridge,
        default_subnet=getattr(opts, "bip", None) or None,
        iptables=bool(getattr(opts, "iptables", True)),
        chain_prefix=prefix,
        userland_proxy=bool(proxy),
    )


def create(ctx) -> NetworkService:
    opts = ctx.options
    manager = NetworkManager(ctx.db, manager_config(Path(ctx.exec_root), opts))
    events = ctx.events

    def emit(action: str, net_id: str, attrs: dict[str, str]) -> None:
        events.emit("network", action, net_id, attrs)

    svc = NetworkService(manager, _Containers(ctx.containers), emit)
    svc.default_dns = tuple(getattr(opts, "dns", ()) or ())
    return svc

"""Sandboxes: a container's network namespace, from its start to its exit.

`NetworkManager` owns networks and endpoints; this part builds what a starting
container needs and removes it afterwards:

  setup(SandboxRequest) -> SandboxInfo
      host mode: nothing (the host's namespace and files);
      container:<id>: the other container's namespace;
      otherwise a fresh namespace under <exec-root>/netns/<id>, an address and a
      veth per endpoint, published ports (proxy process, then DNAT rules), the
      embedded DNS on user-defined networks, and the text of /etc/hosts and
      /etc/resolv.conf. Any failure undoes all of it before raising.
  teardown(id): the reverse, idempotent; restore(running): after a restart.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.network import hosts, ipam, nat, netlink, ports, views
from berth.network.bridge import BridgeDriver
from berth.network.dns import EmbeddedDns
from berth.network.store import SandboxRow

if TYPE_CHECKING:
    from berth.network.manager import NetworkManager

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """What `setup` needs to know about a container about to start."""

    container_id: str
    name: str
    hostname: str
    network_mode: str = "bridge"
    domainname: str = ""
    port_bindings: dict[str, list[dict[str, str]] | None] = field(default_factory=dict)
    exposed_ports: dict[str, object] = field(default_factory=dict)
    publish_all: bool = False
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    """What the daemon puts into the OCI spec and the container's files."""

    netns_path: str | None  # None: share the host's network namespace
    hosts: str
    resolv_conf: str
    ports: dict[str, list[dict[str, str]] | None]


class Sandboxes:
    def __init__(self, manager: NetworkManager) -> None:
        self.m = manager
        self.dns: EmbeddedDns | None = None

    def path(self, container_id: str) -> str | None:
        sb = self.m.store.sandbox(container_id)
        return sb.netns_path if sb else None

    def setup(self, req: SandboxRequest) -> SandboxInfo:
        """Build the container's network before it starts; undo everything on failure."""
        with self.m.lock:
            self.teardown(req.container_id)
            mode = "bridge" if req.network_mode in ("", "default") else req.network_mode
            host_rc = self.m.host_resolv()
            if mode == "host":
                self.m.store.put_sandbox(SandboxRow(req.container_id, "host"))
                return SandboxInfo(
                    None, _read(Path("/etc/hosts")), _read(self.m.cfg.resolv_conf), {}
                )
            if mode.startswith("container:"):
                other = mode.split(":", 1)[1]
                path = self.path(other)
                if path is None and (osb := self.m.store.sandbox(other)) and osb.mode == "host":
                    # the other container shares the host's namespace: so does this one,
                    # named by path because the spec's mode says "container:", not "host"
                    self.m.store.put_sandbox(SandboxRow(req.container_id, "container"))
                    return SandboxInfo(
                        self.m.host_netns_file(),
                        _read(Path("/etc/hosts")),
                        _read(self.m.cfg.resolv_conf),
                        {},
                    )
                if path is None:
                    raise Conflict(f"cannot join network of a non running container: {other[:12]}")
                self.m.store.put_sandbox(SandboxRow(req.container_id, "container", netns_path=path))
                return SandboxInfo(
                    path,
                    hosts.hosts_file(
                        req.hostname, [], domainname=req.domainname, extra_hosts=req.extra_hosts
                    ),
                    hosts.resolv_conf(host_rc, embedded=False, dns=req.dns),
                    {},
                )
            self._recheck_default_subnet()
            path = str(self.m.netns_dir / req.container_id)
            # the netlink socket that made the namespace serves the whole setup
            netlink.create_sandbox(path, keep_open=True)
            sb = SandboxRow(req.container_id, "netns", netns_path=path)
            try:
                self.m.store.put_sandbox(sb)
                return self._setup_endpoints(req, mode, sb, host_rc)
            except BaseException:
                self.teardown(req.container_id)
                raise
            finally:
                netlink.release(path)

    def _setup_endpoints(
        self, req: SandboxRequest, mode: str, sb: SandboxRow, host_rc
    ) -> SandboxInfo:
        rows = self.m.store.endpoints(container_id=req.container_id)
        if mode != "none" and not rows:
            raise NotFound(
                f"container {req.container_id[:12]} has no endpoint on network {mode}: register it first"
            )
        addresses, user_defined, gateway = [], False, None
        nets = []
        for i, row in enumerate(rows):
            net = self.m.store.find(row.network_id)
            row = self.m.join_endpoint(net, row, sb.netns_path, default_route=i == 0)
            addresses.append(row.ip)
            nets.append((net, row))
            gateway = gateway or net.gateway
            user_defined = user_defined or net.name != "bridge"
        requests = ports.requested_mappings(req.port_bindings, req.exposed_ports, req.publish_all)
        if requests and not nets:
            raise InvalidArgument("published ports need a bridge network (not none)")
        applied: list[nat.PortMapping] = []
        proxy_pid = 0
        if requests:
            net0, row0 = nets[0]
            mappings = [
                {"proto": r.proto, "host_ip": r.host_ip, "host_port": r.host_port,
                 "container_ip": row0.ip, "container_port": r.container_port}
                for r in requests
            ]  # fmt: skip
            proxy = ports.start_proxy(
                mappings, self.m.host_ns_path(), owner=str(self.m.cfg.exec_root)
            )
            proxy_pid = proxy.pid
            sb = replace(sb, proxy_pid=proxy_pid)
            self.m.store.put_sandbox(sb)
            applied = [
                nat.PortMapping(r.proto, r.host_ip, hp, row0.ip, r.container_port)
                for r, hp in zip(requests, proxy.host_ports, strict=True)
            ]
            sb = replace(sb, ports=[views.mapping_dict(m) for m in applied])
            self.m.store.put_sandbox(sb)
            driver = self.m.drivers[net0.driver]
            if isinstance(driver, BridgeDriver):
                driver.publish(net0, applied)
        upstreams = hosts.upstreams(host_rc, req.dns)
        sb = replace(sb, upstreams=[list(u) for u in upstreams])
        self.m.store.put_sandbox(sb)
        if user_defined and self.m.cfg.dns:
            self.attach_dns(req.container_id, sb)
        return SandboxInfo(
            sb.netns_path,
            hosts.hosts_file(
                req.hostname,
                addresses[:1],
                domainname=req.domainname,
                extra_hosts=req.extra_hosts,
                host_gateway=gateway,
            ),
            hosts.resolv_conf(
                host_rc,
                embedded=user_defined and self.m.cfg.dns,
                dns=req.dns,
                dns_search=req.dns_search,
                dns_options=req.dns_options,
            ),
            views.ports_view(applied),
        )

    def _recheck_default_subnet(self) -> None:
        """Before the default bridge is first built, make sure its subnet is still free.

        Its subnet was chosen when the daemon first started; another engine (or a
        second berthd) may have taken it since. While the bridge does not exist and
        no container holds an address on it, choosing again costs nothing.
        """
        try:
            net = self.m.store.find("bridge")
        except NotFound:
            return
        driver = self.m.drivers[net.driver]
        if (
            not net.predefined
            or not net.bridge
            or (isinstance(driver, BridgeDriver) and driver.is_ready(net.id))
            or netlink.link_exists(net.bridge, self.m.cfg.host_netns)
        ):
            return
        if self.m.store.used_ips(net.id):
            return
        routes = netlink.host_routes(self.m.cfg.host_netns)
        if not any(ipaddress.IPv4Network(net.subnet).overlaps(r) for r in routes):
            return
        others = [
            ipaddress.IPv4Network(n.subnet)
            for n in self.m.store.networks()
            if n.subnet and n.id != net.id
        ]
        cfg = ipam.configure(None, None, None, taken=others + routes, pools=self.m.cfg.pools)
        fresh = replace(
            net, subnet=str(cfg.subnet), gateway=str(cfg.gateway), ip_range=str(cfg.ip_range)
        )
        self.m.store.replace_network(fresh)
        log.info(
            "default network moved from %s to %s (the old subnet is routed by the host)",
            net.subnet,
            fresh.subnet,
        )

    def attach_dns(self, container_id: str, sb: SandboxRow) -> None:
        if self.dns is None:
            self.dns = EmbeddedDns(self.m.dns_table, port=self.m.cfg.dns_port)
        ups = [tuple(u) for u in sb.upstreams] or hosts.upstreams(self.m.host_resolv())
        self.dns.attach(container_id, sb.netns_path, ups)
        self.m.store.put_sandbox(replace(sb, dns=True))

    def teardown(self, container_id: str) -> None:
        """Remove the sandbox, veths, rules, proxy and DNS of a container (idempotent)."""
        with self.m.lock:
            sb = self.m.store.sandbox(container_id)
            if self.dns is not None:
                self.dns.detach(container_id)
            for row in self.m.store.endpoints(container_id=container_id):
                net = self.m.store.find(row.network_id)
                if sb is not None and sb.ports and net.driver == "bridge":
                    driver = self.m.drivers["bridge"]
                    assert isinstance(driver, BridgeDriver)
                    driver.unpublish(net, [nat.PortMapping(**m) for m in sb.ports])
                    sb = replace(sb, ports=[])
                self.m.leave_endpoint(
                    net, row, namespace_goes=sb is not None and sb.mode == "netns"
                )
            if sb is None:
                return
            if sb.proxy_pid:
                ports.stop_proxy(sb.proxy_pid)
            if sb.mode == "netns" and sb.netns_path:
                netlink.remove_sandbox(sb.netns_path)
            self.m.store.delete_sandbox(container_id)

    def restore(self, running: set[str]) -> None:
        """After a daemon restart: rebuild bridges (re-plugging running containers' veths)
        and DNS for running containers; tear down the sandboxes of the others."""
        with self.m.lock:
            for sb in self.m.store.sandboxes():
                if sb.container_id not in running:
                    self.teardown(sb.container_id)
            for net in self.m.store.networks():
                if net.driver == "bridge" and (
                    net.name != "bridge" or self.m.store.endpoints(network_id=net.id)
                ):
                    self.m.drivers["bridge"].create_network(net)
            for sb in self.m.store.sandboxes():
                for row in self.m.store.endpoints(container_id=sb.container_id):
                    net = self.m.store.find(row.network_id)
                    if row.ip:
                        names = [row.container_name, *row.aliases, row.container_id[:12]]
                        self.m.dns_table.add(net.id, net.name, row.container_id, names, row.ip)
                        if net.bridge and row.host_ifname:
                            # a bridge rebuilt above has lost its ports: plug the veths back
                            netlink.enslave(row.host_ifname, net.bridge, self.m.cfg.host_netns)
                if sb.dns and sb.netns_path and os.path.exists(sb.netns_path):
                    self.attach_dns(sb.container_id, sb)

    def close(self) -> None:
        if self.dns is not None:
            self.dns.close()
            self.dns = None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""

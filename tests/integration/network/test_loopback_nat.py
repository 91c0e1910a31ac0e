"""Kernel DNAT for loopback (`userland_proxy=False`): containers cannot reach the host's 127.0.0.1.

DNAT of loopback connections needs `route_localnet` on berth's bridges, which
also lets packets *to* 127.0.0.0/8 arriving from a container be delivered to
the host's local services (the CVE-2020-8558 class). berth drops those unless
they belong to a connection the host itself opened. The test plays the
attacker inside the container's namespace (as root it can route 127.0.0.0/8
to the gateway) against a UDP service bound to the host's 127.0.0.1.
"""

from __future__ import annotations

import socket
import time

import pytest

from berth.db import open_db
from berth.network import netlink
from berth.network.manager import ManagerConfig, NetworkManager, SandboxRequest

from .conftest import http_get, in_ns


def _manager(host_ns, exec_root, tmp_path, *, userland_proxy: bool) -> NetworkManager:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    return NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root,
            host_netns=host_ns,
            default_bridge="btlo0",
            resolv_conf=resolv,
            userland_proxy=userland_proxy,
            chain_prefix="BTLO",
        ),
    )


def _start(mgr: NetworkManager, cid: str, **kw):
    mgr.register_container(cid, "c", "bridge")
    return mgr.setup(SandboxRequest(cid, "c", cid[:12], network_mode="bridge", **kw))


def _aim_loopback_at_the_gateway(ns_path: str, gateway: str) -> None:
    """What a container with raw sockets achieves: packets to 127.0.0.1 leave by eth0."""
    script = (
        "ip route del local 127.0.0.0/8 dev lo table local;"
        "ip route del local 127.0.0.1 dev lo table local;"
        f"ip route add 127.0.0.0/8 via {gateway} dev eth0;"
        "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet"
    )
    in_ns(ns_path, "sh", "-c", script)


def _received(sock: socket.socket, wait: float) -> list[bytes]:
    sock.settimeout(0.1)
    got, deadline = [], time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(100))
        except TimeoutError:
            pass
    return got


@pytest.mark.parametrize("userland_proxy", [False, True])
def test_a_container_cannot_reach_the_hosts_loopback_services(
    host_ns, exec_root, tmp_path, userland_proxy
):
    mgr = _manager(host_ns, exec_root, tmp_path, userland_proxy=userland_proxy)
    (service,) = netlink.sockets_in(host_ns, [(socket.AF_INET, socket.SOCK_DGRAM, 0)])
    try:
        service.bind(("127.0.0.1", 0))
        port = service.getsockname()[1]
        info = _start(mgr, "a" * 64)
        _aim_loopback_at_the_gateway(info.netns_path, mgr.get("bridge").gateway)
        (probe,) = netlink.sockets_in(info.netns_path, [(socket.AF_INET, socket.SOCK_DGRAM, 0)])
        with probe:
            for _ in range(5):
                probe.sendto(b"probe", ("127.0.0.1", port))
        assert _received(service, 1.0) == []
        mgr.unregister_container("a" * 64)
    finally:
        service.close()
        mgr.shutdown_host_state()


def test_loopback_dnat_still_answers_and_the_guard_goes_with_the_chains(
    host_ns, exec_root, tmp_path
):
    """The guard does not break DNATed loopback connections (their replies come
    back through the bridge to 127.0.0.1), and leaves with berth's chains."""
    mgr = _manager(host_ns, exec_root, tmp_path, userland_proxy=False)
    srv = None
    try:
        info = _start(mgr, "b" * 64, port_bindings={"80/tcp": [{"HostPort": ""}]})
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "index.html").write_text("through the kernel\n")
        import subprocess

        srv = subprocess.Popen(
            ["nsenter", f"--net={info.netns_path}", "/bin/busybox", "httpd", "-f", "-p", "80",
             "-h", str(tmp_path / "www")]
        )  # fmt: skip
        port = int(info.ports["80/tcp"][0]["HostPort"])
        for _ in range(3):
            assert http_get(f"/run/netns/{host_ns}", "127.0.0.1", port) == "through the kernel\n"
        mgr.unregister_container("b" * 64)
    finally:
        if srv is not None:
            srv.kill()
            srv.wait()
        mgr.shutdown_host_state()
    rules = in_ns(f"/run/netns/{host_ns}", "iptables-save").stdout
    assert "BTLO" not in rules

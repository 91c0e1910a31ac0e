"""Bridge networks end to end in throwaway namespaces: addresses, names, ports, cleanup."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from berth.db import open_db
from berth.errors import Conflict, Forbidden, InternalError, InvalidArgument, NotFound
from berth.network import netlink
from berth.network.manager import EndpointRequest, ManagerConfig, NetworkManager, SandboxRequest
from tests.support.poll import poll

from .conftest import http_get, in_ns, links_gone


@pytest.fixture
def manager(host_ns, exec_root, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\nsearch example.test\n")
    mgr = NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root, host_netns=host_ns, default_bridge="btdef0", resolv_conf=resolv
        ),
    )
    try:
        yield mgr
    finally:
        mgr.shutdown_host_state()


def _busybox(ns_path: str, *args: str, check=True, timeout=20):
    return in_ns(ns_path, "/bin/busybox", *args, check=check, timeout=timeout)


def _start(mgr, cid, name, mode, **kw):
    mgr.register_container(cid, name, mode, kw.pop("endpoints", []))
    return mgr.setup(
        SandboxRequest(container_id=cid, name=name, hostname=cid[:12], network_mode=mode, **kw)
    )


def test_two_containers_reach_each_other_by_ip_and_name(manager, host_ns):
    net = manager.create_network("btnet", subnet="10.77.1.0/24")
    assert netlink.link_exists(net.bridge, host_ns)
    a = _start(manager, "a" * 64, "alpha", "btnet")
    b = _start(
        manager, "b" * 64, "beta", "btnet", endpoints=[EndpointRequest("btnet", aliases=("db",))]
    )
    ip_a = _busybox(a.netns_path, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert "10.77.1.2/24" in ip_a
    assert "nameserver 127.0.0.11" in a.resolv_conf
    assert "10.77.1.2\taaaaaaaaaaaa" in a.hosts
    _busybox(b.netns_path, "ping", "-c1", "-W2", "10.77.1.2")
    out = _busybox(a.netns_path, "nslookup", "beta", "127.0.0.11").stdout
    assert "10.77.1.3" in out
    out = _busybox(a.netns_path, "nslookup", "db", "127.0.0.11").stdout
    assert "10.77.1.3" in out
    out = _busybox(a.netns_path, "nslookup", "beta.btnet", "127.0.0.11").stdout
    assert "10.77.1.3" in out
    settings = manager.network_settings("b" * 64, "btnet")
    ep = settings["Networks"]["btnet"]
    assert (ep["IPAddress"], ep["IPPrefixLen"], ep["Gateway"]) == ("10.77.1.3", 24, "10.77.1.1")
    assert ep["Aliases"] == ["db"] and ep["MacAddress"] == "02:42:0a:4d:01:03"
    assert settings["SandboxKey"] == b.netns_path
    veths = [e.host_ifname for e in manager.endpoints("btnet")]
    assert all(netlink.link_exists(v, host_ns) for v in veths)
    manager.teardown("a" * 64)
    manager.teardown("b" * 64)
    assert not Path(a.netns_path).exists()
    assert links_gone(host_ns, veths)
    assert manager.dns.attached() == []


def test_cleanup_leaves_nothing(manager, host_ns):
    manager.create_network("btclean", subnet="10.77.2.0/24")
    info = _start(
        manager, "c" * 64, "gamma", "btclean", port_bindings={"80/tcp": [{"HostPort": ""}]}
    )
    from berth.network.plan import host_veth_name

    veth = host_veth_name(manager.get("btclean").id, "c" * 64)
    assert netlink.link_exists(veth, host_ns)
    assert manager.iptables.list_rules("nat", "BERTH") != ["-N BERTH"]
    pid = manager.store.sandbox("c" * 64).proxy_pid
    assert pid > 0
    manager.unregister_container("c" * 64)
    manager.remove("btclean")
    assert links_gone(host_ns, [veth])
    assert not Path(info.netns_path).exists()
    assert manager.iptables.list_rules("nat", "BERTH") == ["-N BERTH"]
    assert all("10.77.2" not in r for r in manager.iptables.list_rules("nat", "BERTH-POSTROUTING"))
    assert poll(lambda: not Path(f"/proc/{pid}").exists(), 5, 0.02), f"proxy {pid} still runs"


def _http_server(ns_path: str, root: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "nsenter",
            f"--net={ns_path}",
            "/bin/busybox",
            "httpd",
            "-f",
            "-p",
            str(port),
            "-h",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_published_port_from_loopback_and_host_address(manager, host_ns, tmp_path):
    net = manager.create_network("btpub", subnet="10.77.3.0/24")
    info = _start(manager, "d" * 64, "web", "btpub", port_bindings={"8080/tcp": [{"HostPort": ""}]})
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello from the container\n")
    srv = _http_server(info.netns_path, tmp_path / "www", 8080)
    try:
        host_port = info.ports["8080/tcp"][0]["HostPort"]
        assert int(host_port) > 0
        host_path = f"/run/netns/{host_ns}"
        # loopback: through the userland proxy
        assert http_get(host_path, "127.0.0.1", int(host_port)) == "hello from the container\n"
        # a host address: through the kernel's DNAT in berth's chain
        assert http_get(host_path, net.gateway, int(host_port)) == "hello from the container\n"
        assert manager.ports_of("d" * 64) == info.ports
        big = "".join(f"{i:08d}\n" for i in range(400_000))  # 3.6 MB: exercises partial writes
        (tmp_path / "www" / "big.txt").write_text(big)
        assert http_get(host_path, "127.0.0.1", int(host_port), "/big.txt") == big
    finally:
        srv.kill()
        srv.wait()
    manager.teardown("d" * 64)
    with pytest.raises(AssertionError, match="no answer"):
        http_get(f"/run/netns/{host_ns}", "127.0.0.1", int(host_port), timeout=0.2)


def test_port_already_taken_is_refused_and_nothing_is_left(manager, host_ns):
    manager.create_network("bttaken", subnet="10.77.4.0/24")
    blocker = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{host_ns}", "/bin/busybox", "nc", "-l", "-p", "18080"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll(lambda: "1F90" in Path(f"/proc/{blocker.pid}/net/tcp").read_text(), 5, 0.02)
        with pytest.raises(InternalError, match="port is already allocated"):
            _start(
                manager,
                "e" * 64,
                "taken",
                "bttaken",
                port_bindings={"80/tcp": [{"HostPort": "18080"}]},
            )
    finally:
        blocker.kill()
        blocker.wait()
    assert manager.store.sandbox("e" * 64) is None
    assert not list((manager.netns_dir).iterdir())
    assert all(e.ip is None for e in manager.endpoints("bttaken"))
    assert not any("DNAT" in r for r in manager.iptables.list_rules("nat", "BERTH"))


def test_bad_input_gets_docker_errors(manager):
    manager.create_network("btbad", subnet="10.77.5.0/24")
    with pytest.raises(Forbidden, match="overlaps"):
        manager.create_network("btbad2", subnet="10.77.5.128/25")
    with pytest.raises(Conflict, match="already exists"):
        manager.create_network("btbad", subnet="10.77.6.0/24")
    with pytest.raises(NotFound):
        manager.get("no-such-network")
    with pytest.raises(InvalidArgument, match="does not belong"):
        manager.register_container(
            "f" * 64, "f", "btbad", [EndpointRequest("btbad", ipv4_address="10.9.9.9")]
        )
    assert manager.store.endpoints(container_id="f" * 64) == []
    manager.register_container(
        "f" * 64, "f", "btbad", [EndpointRequest("btbad", ipv4_address="10.77.5.50")]
    )
    with pytest.raises(Forbidden, match="active endpoints"):
        manager.remove("btbad")
    with pytest.raises(Forbidden, match="pre-defined"):
        manager.remove("bridge")
    assert [n.name for n in manager.list()].count("btbad2") == 0


def test_addresses_survive_a_restart_and_are_not_reused(manager, host_ns, exec_root, tmp_path):
    manager.create_network("btipam", subnet="10.77.7.0/29")
    first = _start(manager, "1" * 64, "one", "btipam")
    assert "10.77.7.2" in first.hosts
    manager.unregister_container("1" * 64)
    manager.close()
    again = NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root,
            host_netns=host_ns,
            default_bridge="btdef0",
            resolv_conf=manager.cfg.resolv_conf,
        ),
    )
    try:
        second = _start(again, "2" * 64, "two", "btipam")
        assert "10.77.7.3" in second.hosts  # not .2 again right away
        again.unregister_container("2" * 64)
    finally:
        again.close()


def test_host_and_none_modes(manager):
    info = _start(manager, "9" * 64, "hosty", "host")
    assert info.netns_path is None
    joined = manager.setup(
        SandboxRequest("4" * 64, "hostfollower", "h", network_mode="container:" + "9" * 64)
    )
    assert (
        joined.netns_path == f"/run/netns/{manager.cfg.host_netns}"
    )  # the (test's) host namespace
    manager.teardown("4" * 64)
    manager.teardown("9" * 64)
    info = _start(manager, "8" * 64, "lonely", "none")
    links = in_ns(info.netns_path, "/bin/busybox", "ip", "-o", "link").stdout
    assert "lo" in links and "eth0" not in links
    shared = manager.setup(
        SandboxRequest("7" * 64, "follower", "follower", network_mode="container:" + "8" * 64)
    )
    assert shared.netns_path == info.netns_path
    manager.teardown("7" * 64)
    assert Path(info.netns_path).exists()  # the owner's namespace stays
    manager.teardown("8" * 64)
    assert not Path(info.netns_path).exists()
    _ = json  # keep the import for shapes checked elsewhere
    _ = socket


def test_restart_restores_dns_and_ports_and_drops_dead_containers(
    manager, host_ns, exec_root, tmp_path
):
    manager.create_network("btrestore", subnet="10.77.8.0/24")
    a = _start(
        manager, "a" * 64, "alive", "btrestore", port_bindings={"8080/tcp": [{"HostPort": ""}]}
    )
    gone = _start(manager, "d" * 64, "dead", "btrestore")
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("still here\n")
    srv = _http_server(a.netns_path, tmp_path / "www", 8080)
    manager.close()  # the daemon stops; containers and proxies keep running
    again = NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root,
            host_netns=host_ns,
            default_bridge="btdef0",
            resolv_conf=manager.cfg.resolv_conf,
        ),
    )
    try:
        again.restore({"a" * 64})
        assert not Path(gone.netns_path).exists()  # not running any more: torn down
        assert again.store.sandbox("d" * 64) is None
        out = _busybox(a.netns_path, "nslookup", "alive", "127.0.0.11").stdout
        assert "10.77.8.2" in out
        port = int(a.ports["8080/tcp"][0]["HostPort"])
        assert http_get(f"/run/netns/{host_ns}", "127.0.0.1", port) == "still here\n"
        again.unregister_container("a" * 64)
        again.unregister_container("d" * 64)
    finally:
        srv.kill()
        srv.wait()
        again.close()


def test_internal_network_has_no_way_out(manager):
    net = manager.create_network("btinternal", subnet="10.77.9.0/24", internal=True)
    info = _start(manager, "5" * 64, "secluded", "btinternal")
    routes = _busybox(info.netns_path, "ip", "route").stdout
    assert "default" not in routes and "10.77.9.0/24" in routes
    forward = manager.iptables.list_rules("filter", "BERTH-FORWARD")
    assert f"-A BERTH-FORWARD -i {net.bridge} ! -o {net.bridge} -j DROP" in forward
    assert not any("10.77.9" in r for r in manager.iptables.list_rules("nat", "BERTH-POSTROUTING"))
    manager.unregister_container("5" * 64)
    manager.remove("btinternal")
    assert not any(net.bridge in r for r in manager.iptables.list_rules("filter", "BERTH-FORWARD"))


def test_default_bridge_moves_off_a_subnet_the_host_took_meanwhile(manager, host_ns):
    from pyroute2 import NetNS

    taken = manager.get("bridge").subnet
    with NetNS(host_ns) as ns:  # another engine's bridge appears on the same subnet
        ns.link("add", ifname="btother0", kind="bridge")
        idx = ns.link_lookup(ifname="btother0")[0]
        ns.addr(
            "add", index=idx, address=taken.split("/")[0].rsplit(".", 2)[0] + ".0.1", prefixlen=16
        )
        ns.link("set", index=idx, state="up")
    info = _start(manager, "6" * 64, "mover", "bridge")
    moved = manager.get("bridge").subnet
    assert moved != taken
    prefix = moved.split("/")[0].rsplit(".", 2)[0]
    assert f"{prefix}.0.2\t" in info.hosts
    manager.unregister_container("6" * 64)


def test_without_userland_proxy_loopback_goes_through_the_kernel(host_ns, exec_root, tmp_path):
    import os
    import signal

    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    mgr = NetworkManager(
        open_db(tmp_path / "kernel.db"),
        ManagerConfig(
            exec_root=exec_root,
            host_netns=host_ns,
            default_bridge="btk0",
            resolv_conf=resolv,
            userland_proxy=False,
        ),
    )
    srv = None
    try:
        net = mgr.create_network("btkernel", subnet="10.77.10.0/24")
        info = _start(
            mgr, "k" * 64, "web", "btkernel", port_bindings={"80/tcp": [{"HostPort": ""}]}
        )
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "index.html").write_text("no proxy needed\n")
        srv = _http_server(info.netns_path, tmp_path / "www", 80)
        port = int(info.ports["80/tcp"][0]["HostPort"])
        pid = mgr.store.sandbox("k" * 64).proxy_pid
        os.kill(pid, signal.SIGKILL)  # the proxy only held the port
        os.waitpid(pid, 0)
        assert http_get(f"/run/netns/{host_ns}", "127.0.0.1", port) == "no proxy needed\n"
        sysctl = in_ns(
            f"/run/netns/{host_ns}", "cat", f"/proc/sys/net/ipv4/conf/{net.bridge}/route_localnet"
        )
        assert sysctl.stdout.strip() == "1"
        mgr.unregister_container("k" * 64)
    finally:
        if srv is not None:
            srv.kill()
            srv.wait()
        mgr.shutdown_host_state()
    assert mgr.iptables.list_rules("nat", "BERTH") == []  # chains gone
    assert "BERTH" not in "".join(mgr.iptables.list_rules("nat", "OUTPUT"))


def test_udp_port_through_the_proxy(manager, host_ns):
    import socket
    import threading

    from berth.network.netlink import sockets_in

    manager.create_network("btudp", subnet="10.77.11.0/24")
    info = _start(
        manager, "u" * 64, "dns", "btudp", port_bindings={"5353/udp": [{"HostIp": "127.0.0.1"}]}
    )
    (server,) = sockets_in(info.netns_path, [(socket.AF_INET, socket.SOCK_DGRAM, 0)])
    server.bind(("0.0.0.0", 5353))

    def echo() -> None:
        data, peer = server.recvfrom(1024)
        server.sendto(b"echo:" + data, peer)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    port = int(info.ports["5353/udp"][0]["HostPort"])
    (client,) = sockets_in(host_ns, [(socket.AF_INET, socket.SOCK_DGRAM, 0)])
    try:
        client.settimeout(10)
        client.sendto(b"ping", ("127.0.0.1", port))
        assert client.recv(1024) == b"echo:ping"
    finally:
        client.close()
        server.close()
        manager.unregister_container("u" * 64)


def test_restore_replugs_veths_into_a_rebuilt_bridge(manager, host_ns, exec_root, tmp_path):
    net = manager.create_network("btreplug", subnet="10.77.12.0/24")
    a = _start(manager, "r" * 64, "one", "btreplug")
    b = _start(manager, "s" * 64, "two", "btreplug")
    _busybox(a.netns_path, "ping", "-c1", "-W2", "10.77.12.3")
    manager.close()
    netlink.delete_link(net.bridge, host_ns)  # someone removed the bridge while berthd was down
    again = NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root,
            host_netns=host_ns,
            default_bridge="btdef0",
            resolv_conf=manager.cfg.resolv_conf,
        ),
    )
    try:
        again.restore({"r" * 64, "s" * 64})
        assert netlink.link_exists(net.bridge, host_ns)
        _busybox(a.netns_path, "ping", "-c1", "-W2", "10.77.12.3")
        assert b.netns_path
        again.unregister_container("r" * 64)
        again.unregister_container("s" * 64)
    finally:
        again.close()


def test_a_bridge_network_turns_forwarding_on_and_an_internal_one_does_not(manager, host_ns):
    def forwarding() -> str:
        return in_ns(f"/run/netns/{host_ns}", "cat", "/proc/sys/net/ipv4/ip_forward").stdout

    netlink.write_sysctl("net/ipv4/ip_forward", "0", host_ns)
    assert forwarding().strip() == "0"
    manager.create_network("btinternal", subnet="10.77.8.0/24", internal=True)
    assert forwarding().strip() == "0"
    manager.create_network("btouter", subnet="10.77.9.0/24")
    assert forwarding().strip() == "1"

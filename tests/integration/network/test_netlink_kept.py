"""The fast path of a container start's netlink work: kept handles, veth re-creation.

Everything happens inside a throwaway namespace playing the host (`host_ns`).
"""

from __future__ import annotations

import os

import pytest

from berth.db import open_db
from berth.errors import InternalError
from berth.network import netlink
from berth.network.manager import ManagerConfig, NetworkManager, SandboxRequest
from berth.network.plan import BridgePlan, VethPlan
from berth.network.rtnl import Rtnl

from .conftest import in_ns


def _netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def _plan(ifname: str, bridge: str = "btkept0") -> VethPlan:
    return VethPlan(
        bridge=bridge,
        host_ifname=ifname,
        ctr_ifname="eth0",
        mac="02:42:0a:58:00:05",
        address="10.88.0.5",
        prefixlen=24,
        gateway="10.88.0.1",
        mtu=1500,
    )


@pytest.fixture
def bridge(host_ns):
    netlink.ensure_bridge(BridgePlan("btkept0", "10.88.0.1/24", 1500), host_ns)
    yield "btkept0"
    netlink.delete_link("btkept0", host_ns)


@pytest.fixture
def sandbox(tmp_path):
    path = str(tmp_path / "sb")
    netlink.create_sandbox(path)
    yield path
    netlink.remove_sandbox(path)


def test_a_kept_handle_is_shared_until_the_last_release(host_ns):
    netlink.keep_open(host_ns)
    netlink.keep_open(host_ns)
    with netlink.netlink(host_ns) as first:
        pass
    with netlink.netlink(host_ns) as second:
        assert second is first  # one handle for the namespace
    netlink.release(host_ns)
    with netlink.netlink(host_ns) as third:
        assert third is first  # one keep_open still holds it
    netlink.release(host_ns)
    with netlink.netlink(host_ns) as fresh:
        assert fresh is not first  # released: a handle per use again
    netlink.release(host_ns)  # one too many: harmless


def test_veth_into_a_sandbox_is_addressed_up_and_routed(host_ns, bridge, sandbox):
    netlink.add_veth(_plan("vbkept1"), sandbox, host_ns)
    addr = in_ns(sandbox, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert "10.88.0.5/24" in addr
    assert "state UP" in in_ns(sandbox, "ip", "link", "show", "eth0").stdout
    assert "default via 10.88.0.1" in in_ns(sandbox, "ip", "route").stdout
    host_side = in_ns(f"/run/netns/{host_ns}", "ip", "link", "show", "vbkept1").stdout
    assert "master btkept0" in host_side and "state UP" in host_side
    in_ns(sandbox, "/bin/busybox", "ping", "-c1", "-W2", "10.88.0.1")


def test_a_leftover_host_veth_of_the_same_name_is_replaced(host_ns, bridge, sandbox, tmp_path):
    """A daemon killed mid-start may leave the host end behind: the next start
    with the same name must still succeed."""
    other = str(tmp_path / "other")
    netlink.create_sandbox(other)
    try:
        netlink.add_veth(_plan("vbkept2"), other, host_ns)
        netlink.add_veth(_plan("vbkept2"), sandbox, host_ns)
        assert "10.88.0.5/24" in in_ns(sandbox, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    finally:
        netlink.remove_sandbox(other)


def test_a_rebuilt_bridge_is_found_again(host_ns, bridge, sandbox, tmp_path):
    """The bridge's index is remembered; a bridge deleted and created again behind
    berth's back (new index) is looked up afresh instead of failing."""
    first = str(tmp_path / "first")
    netlink.create_sandbox(first)
    try:
        netlink.add_veth(_plan("vbkept3"), first, host_ns)
    finally:
        netlink.remove_sandbox(first)
    in_ns(f"/run/netns/{host_ns}", "ip", "link", "del", "btkept0")
    in_ns(f"/run/netns/{host_ns}", "ip", "link", "add", "btkept0", "type", "bridge")
    netlink.add_veth(_plan("vbkept4"), sandbox, host_ns)
    host_side = in_ns(f"/run/netns/{host_ns}", "ip", "link", "show", "vbkept4").stdout
    assert "master btkept0" in host_side


def test_a_missing_bridge_is_a_clear_error(host_ns, sandbox):
    with pytest.raises(InternalError, match="bridge btnone0 is missing"):
        netlink.add_veth(_plan("vbkept5", bridge="btnone0"), sandbox, host_ns)


def test_rtnl_lookup_and_errors(host_ns):
    (sock,) = netlink.sockets_in(host_ns, [(16, 2, 0)])  # AF_NETLINK, SOCK_DGRAM, ROUTE
    r = Rtnl(sock)
    try:
        assert r.link_index("lo") == netlink.LOOPBACK_IFINDEX
        assert r.link_index("nosuchlink0") is None
        from pyroute2 import NetlinkError

        with pytest.raises(NetlinkError):
            r.add_address(999999, "10.1.2.3", 24)  # no such interface
    finally:
        r.close()


def test_setup_releases_the_sandbox_handle(host_ns, exec_root, tmp_path):
    """A kept handle inside a sandbox would keep its namespace alive after removal."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    mgr = NetworkManager(
        open_db(tmp_path / "berth.db"),
        ManagerConfig(
            exec_root=exec_root, host_netns=host_ns, default_bridge="btkept1", resolv_conf=resolv
        ),
    )
    try:
        mgr.register_container("k" * 64, "k", "bridge")
        info = mgr.setup(SandboxRequest("k" * 64, "k", "k", network_mode="bridge"))
        assert netlink._key(info.netns_path) not in netlink._kept
        mgr.unregister_container("k" * 64)
        assert not os.path.exists(info.netns_path)
    finally:
        mgr.shutdown_host_state()
    assert netlink._key(host_ns) not in netlink._kept  # the manager's host handle too

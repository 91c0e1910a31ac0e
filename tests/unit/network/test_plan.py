import pytest

from berth.errors import InvalidArgument
from berth.network.driver import Endpoint, NetworkRecord
from berth.network.plan import (
    IFNAMSIZ,
    bridge_name_for,
    check_ifname,
    host_veth_name,
    plan_bridge,
    plan_veth,
)

NET = NetworkRecord(
    "n" * 64, "web", "bridge", subnet="10.5.0.0/16", gateway="10.5.0.1", bridge="br-nnnnnnnnnnnn"
)


def _ep(**kw):
    base = dict(
        network_id=NET.id,
        container_id="c" * 64,
        container_name="db",
        ip="10.5.0.2",
        prefixlen=16,
        gateway="10.5.0.1",
        mac="02:42:0a:05:00:02",
        ifname="eth0",
        host_ifname=host_veth_name(NET.id, "c" * 64),
    )
    base.update(kw)
    return Endpoint(**base)


def test_names_fit_the_kernel_limit_and_are_stable():
    name = host_veth_name("a" * 64, "b" * 64)
    assert name.startswith("bt") and len(name) <= IFNAMSIZ
    assert name == host_veth_name("a" * 64, "b" * 64)
    assert name != host_veth_name("a" * 64, "c" * 64)
    assert len(bridge_name_for("f" * 64)) <= IFNAMSIZ


def test_bridge_plan_carries_the_gateway():
    assert plan_bridge(NET).address == "10.5.0.1/16"


def test_veth_plan_routes_through_gateway_unless_internal_or_secondary():
    p = plan_veth(NET, _ep(), default_route=True)
    assert (p.ctr_ifname, p.address, p.prefixlen, p.gateway) == ("eth0", "10.5.0.2", 16, "10.5.0.1")
    assert plan_veth(NET, _ep(ifname="eth1"), default_route=False).gateway is None
    internal = NetworkRecord(
        **{**{f: getattr(NET, f) for f in NET.__dataclass_fields__}, "internal": True}
    )
    assert plan_veth(internal, _ep(), default_route=True).gateway is None


def test_bad_interface_names_are_refused():
    for bad in ("", "x" * 16, "a/b", " eth0"):
        with pytest.raises(InvalidArgument):
            check_ifname(bad)
    with pytest.raises(InvalidArgument):
        plan_veth(NET, _ep(ip=None), default_route=True)

import ipaddress

import pytest

from berth.errors import Forbidden, InvalidArgument, Unavailable
from berth.network import ipam

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def test_default_subnet_avoids_host_routes_and_other_networks():
    taken = [N("172.17.0.0/16"), N("172.18.5.0/24")]
    cfg = ipam.configure(None, None, None, taken=taken)
    assert cfg.subnet == N("172.19.0.0/16")
    assert cfg.gateway == A("172.19.0.1")


def test_default_subnet_moves_to_192_168_when_172_is_full():
    cfg = ipam.configure(None, None, None, taken=[N("172.16.0.0/12")])
    assert cfg.subnet == N("192.168.0.0/20")


def test_all_pools_taken_is_unavailable():
    with pytest.raises(Unavailable):
        ipam.choose_subnet([N("0.0.0.0/0")])


def test_overlapping_subnet_is_forbidden():
    with pytest.raises(Forbidden, match="overlaps"):
        ipam.configure("10.1.0.0/16", None, None, taken=[N("10.1.2.0/24")])


def test_gateway_and_range_must_be_inside_subnet():
    with pytest.raises(InvalidArgument, match="gateway"):
        ipam.configure("10.1.0.0/24", "10.2.0.1", None, taken=[])
    with pytest.raises(InvalidArgument, match="ip-range"):
        ipam.configure("10.1.0.0/24", None, "10.1.1.0/25", taken=[])
    with pytest.raises(InvalidArgument, match="host bits"):
        ipam.configure("10.1.0.5/24", None, None, taken=[])
    with pytest.raises(InvalidArgument):
        ipam.configure(None, "10.1.0.1", None, taken=[])


def test_addresses_round_robin_and_skip_gateway_and_in_use():
    cfg = ipam.configure("10.0.0.0/29", None, None, taken=[])
    got = []
    last = None
    used: set = set()
    for _ in range(5):
        last = ipam.next_address(cfg, used, last)
        used.add(last)
        got.append(str(last))
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(Unavailable):
        ipam.next_address(cfg, used, last)
    used.discard(A("10.0.0.3"))
    used.discard(A("10.0.0.6"))
    # after 10.0.0.6 the next free one wraps to .3, never .6 twice in a row
    assert ipam.next_address(cfg, used, A("10.0.0.6")) == A("10.0.0.3")


def test_ip_range_limits_dynamic_addresses():
    cfg = ipam.configure("10.0.0.0/24", "10.0.0.1", "10.0.0.128/25", taken=[])
    assert ipam.next_address(cfg, set(), None) == A(
        "10.0.0.128"
    )  # only the subnet's own ends are reserved


def test_requested_address_checks():
    cfg = ipam.configure("10.0.0.0/24", None, None, taken=[])
    assert ipam.check_requested(cfg, A("10.0.0.9"), set()) == A("10.0.0.9")
    with pytest.raises(InvalidArgument, match="does not belong"):
        ipam.check_requested(cfg, A("10.0.1.9"), set())
    with pytest.raises(InvalidArgument, match="reserved"):
        ipam.check_requested(cfg, A("10.0.0.1"), set())
    with pytest.raises(Forbidden, match="in use"):
        ipam.check_requested(cfg, A("10.0.0.9"), {A("10.0.0.9")})


def test_mac_is_derived_from_the_address():
    assert ipam.mac_for(A("172.17.0.2")) == "02:42:ac:11:00:02"

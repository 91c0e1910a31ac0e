import pytest

from berth.daemon.networks import NetworkView, filter_networks, list_ports
from berth.errors import InvalidArgument
from berth.network.driver import NetworkRecord


def _views():
    return [
        NetworkView(NetworkRecord("a" * 64, "bridge", "bridge", predefined=True), []),
        NetworkView(NetworkRecord("b" * 64, "front", "bridge", labels={"tier": "web"}), []),
        NetworkView(NetworkRecord("c" * 64, "back", "bridge", labels={"tier": "db"}), ["ep"]),
    ]


def test_filters_like_docker():
    names = lambda f: [v.net.name for v in filter_networks(_views(), f)]  # noqa: E731
    assert names({"name": ["ron"]}) == ["front"]
    assert names({"id": ["bbb"]}) == ["front"]
    assert names({"type": ["custom"]}) == ["front", "back"]
    assert names({"type": ["builtin"]}) == ["bridge"]
    assert names({"label": ["tier=db"]}) == ["back"]
    assert names({"label": ["tier"]}) == ["front", "back"]
    assert names({"dangling": ["true"]}) == ["front"]
    with pytest.raises(InvalidArgument):
        names({"type": ["weird"]})


def test_list_ports_shape():
    got = list_ports({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "53/udp": None})
    assert got == [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
    ]

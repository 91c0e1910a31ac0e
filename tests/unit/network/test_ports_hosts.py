import pytest

from berth.errors import InvalidArgument
from berth.network import hosts, nat
from berth.network.ports import PortRequest, parse_publish, requested_mappings
from berth.network.views import ports_view


def test_publish_specs_like_docker():
    assert parse_publish("80") == {"80/tcp": [{"HostIp": "", "HostPort": ""}]}
    assert parse_publish("8080:80") == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert parse_publish("127.0.0.1:8080:80/udp") == {
        "80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]
    }
    assert parse_publish("127.0.0.1::80") == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert parse_publish("8000-8001:80-81") == {
        "80/tcp": [{"HostIp": "", "HostPort": "8000"}],
        "81/tcp": [{"HostIp": "", "HostPort": "8001"}],
    }


@pytest.mark.parametrize(
    "bad", ["", "abc", "70000", "1:2:3:4", "80/xyz", "999.1.1.1:80:80", "8000-8002:80-81"]
)
def test_bad_publish_specs(bad):
    with pytest.raises(InvalidArgument):
        parse_publish(bad)


def test_requested_mappings_with_publish_all():
    got = requested_mappings(
        {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, {"80/tcp": {}, "53/udp": {}}, True
    )
    assert got == [PortRequest("tcp", 80, "", 8080), PortRequest("udp", 53, "", 0)]
    assert requested_mappings({}, {"80/tcp": {}}, False) == []


def test_port_rules_dnat_only_to_the_container():
    rules = nat.port_rules(
        nat.Chains("BT"), "br0", nat.PortMapping("tcp", "", 8080, "10.0.0.2", 80)
    )
    dnat = rules[0]
    assert (dnat.table, dnat.chain) == ("nat", "BT")
    assert dnat.spec[-2:] == ("--to-destination", "10.0.0.2:80")
    assert "-d" not in dnat.spec
    assert (
        "127.0.0.1"
        in nat.port_rules(
            nat.Chains(), "br0", nat.PortMapping("tcp", "127.0.0.1", 1, "10.0.0.2", 2)
        )[0].spec
    )


def test_internal_networks_get_no_masquerade():
    ch = nat.Chains()
    internal = nat.network_rules(ch, "br0", "10.0.0.0/24", internal=True)
    assert all("MASQUERADE" not in r.spec for r in internal)
    assert any(
        "MASQUERADE" in r.spec for r in nat.network_rules(ch, "br0", "10.0.0.0/24", internal=False)
    )
    assert {r.chain for r in ch.jumps()} == {
        "PREROUTING",
        "OUTPUT",
        "POSTROUTING",
        "FORWARD",
        "INPUT",
    }


def test_hosts_file_and_resolv_conf():
    text = hosts.hosts_file(
        "abc", ["10.0.0.2"], extra_hosts=["db:10.0.0.9", "gw:host-gateway"], host_gateway="10.0.0.1"
    )
    assert "127.0.0.1\tlocalhost\n" in text
    assert "10.0.0.2\tabc\n" in text and "10.0.0.9\tdb\n" in text and "10.0.0.1\tgw\n" in text
    host = hosts.parse_resolv_conf(
        "# x\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch a.b\noptions rotate\n"
    )
    assert (
        hosts.resolv_conf(host, embedded=True)
        == "nameserver 127.0.0.11\nsearch a.b\noptions ndots:0 rotate\n"
    )
    assert hosts.resolv_conf(host, embedded=False).startswith("nameserver 10.1.1.1\n")
    assert "8.8.8.8" in hosts.resolv_conf(
        hosts.parse_resolv_conf("nameserver 127.0.0.1"), embedded=False
    )
    assert hosts.upstreams(host) == [("127.0.0.53", 53), ("10.1.1.1", 53)]
    with pytest.raises(InvalidArgument):
        hosts.parse_extra_host("nohost")


def test_ports_view_shape():
    view = ports_view([nat.PortMapping("tcp", "", 32768, "10.0.0.2", 80)], [])
    assert view == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}]}


def test_loopback_nat_only_without_the_userland_proxy():
    ch = nat.Chains("BT")
    plain = nat.network_rules(ch, "br0", "10.0.0.0/24", internal=False)
    kernel = nat.network_rules(ch, "br0", "10.0.0.0/24", internal=False, loopback_nat=True)
    extra = [r for r in kernel if r not in plain]
    assert extra == [
        nat.Rule(
            "nat",
            "BT-POSTROUTING",
            ("-o", "br0", "-m", "addrtype", "--src-type", "LOCAL", "-j", "MASQUERADE"),
        ),
        # route_localnet must not open the host's loopback services to containers
        nat.Rule(
            "filter",
            "BT-INPUT",
            (
                "-i",
                "br0",
                "-d",
                "127.0.0.0/8",
                "-m",
                "conntrack",
                "!",
                "--ctstate",
                "RELATED,ESTABLISHED,DNAT",
                "-j",
                "DROP",
            ),
        ),
    ]
    assert ch.loopback_jump() == nat.Rule("nat", "OUTPUT", ("-d", "127.0.0.0/8", "-j", "BT"))
    assert ch.loopback_jump() not in ch.jumps()  # the default (proxy) mode leaves loopback alone

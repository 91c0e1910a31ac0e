import struct

import pytest

from berth.errors import InvalidArgument
from berth.network import dnsmsg
from berth.network.dns import DnsTable, EmbeddedDns


def test_query_roundtrip_and_a_answer():
    q = dnsmsg.parse_query(dnsmsg.build_query(0x1234, "Backend.", dnsmsg.TYPE_A))
    assert (q.id, q.question.name, q.question.qtype) == (0x1234, "backend", dnsmsg.TYPE_A)
    resp = dnsmsg.parse_response(dnsmsg.build_response(q, addresses=["10.0.0.2", "10.0.0.3"]))
    assert resp.id == 0x1234 and resp.rcode == 0
    assert resp.addresses == ("10.0.0.2", "10.0.0.3")


def test_ptr_answer_and_reverse_names():
    assert dnsmsg.reverse_name_to_ip("2.0.17.172.in-addr.arpa") == "172.17.0.2"
    assert dnsmsg.reverse_name_to_ip("example.com") is None
    q = dnsmsg.parse_query(dnsmsg.build_query(7, "2.0.17.172.in-addr.arpa", dnsmsg.TYPE_PTR))
    assert dnsmsg.parse_response(dnsmsg.build_response(q, ptr="db.web")).names == ("db.web",)


def test_compressed_names_are_followed():
    msg = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x03abc\x00" + struct.pack("!HH", 1, 1)
    assert dnsmsg.parse_query(msg).question.name == "abc"
    loop = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(InvalidArgument):
        dnsmsg.parse_query(loop)


def test_malformed_messages_are_refused():
    for bad in (
        b"",
        b"\x00" * 5,
        struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01",
    ):
        with pytest.raises(InvalidArgument):
            dnsmsg.parse_query(bad)
    assert (
        dnsmsg.parse_response(dnsmsg.error_response(b"\x12\x34", dnsmsg.RCODE_SERVFAIL)).rcode == 2
    )


def test_table_answers_only_within_shared_networks():
    t = DnsTable()
    t.add("n1", "front", "web", ["web"], "10.1.0.2")
    t.add("n1", "front", "api", ["api", "backend"], "10.1.0.3")
    t.add("n2", "back", "api", ["api"], "10.2.0.3")
    t.add("n2", "back", "db", ["db"], "10.2.0.4")
    assert t.lookup("web", "backend") == ["10.1.0.3"]
    assert t.lookup("web", "API.front") == ["10.1.0.3"]
    assert t.lookup("web", "db") == []  # not on a network web is on
    assert t.lookup("api", "db") == ["10.2.0.4"]
    assert t.reverse("web", "10.1.0.3") == "api.front"
    t.remove_container("api")
    assert t.lookup("web", "backend") == []


def test_server_answers_known_names_and_defers_the_rest():
    t = DnsTable()
    t.add("n1", "front", "web", ["web"], "10.1.0.2")
    t.add("n1", "front", "api", ["api"], "10.1.0.3")
    srv = EmbeddedDns(t)
    try:
        ans = srv.answer_locally("web", dnsmsg.build_query(1, "api"))
        assert dnsmsg.parse_response(ans).addresses == ("10.1.0.3",)
        aaaa = srv.answer_locally("web", dnsmsg.build_query(2, "api", dnsmsg.TYPE_AAAA))
        assert (
            dnsmsg.parse_response(aaaa).addresses == () and dnsmsg.parse_response(aaaa).rcode == 0
        )
        assert srv.answer_locally("web", dnsmsg.build_query(3, "example.com")) is None
        assert (
            dnsmsg.parse_response(srv.answer_locally("web", b"\x00\x09junk")).rcode
            == dnsmsg.RCODE_FORMERR
        )
    finally:
        srv.close()

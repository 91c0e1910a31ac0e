"""The embedded DNS server inside a namespace: local names, forwarding, TCP, detach."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from berth.network import dnsmsg
from berth.network.dns import DnsTable, EmbeddedDns
from berth.network.netlink import create_sandbox, remove_sandbox


class FakeUpstream:
    """A resolver on the host's loopback that answers every A query with 192.0.2.99."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            q = dnsmsg.parse_query(data)
            self.seen.append(q.question.name)
            self.sock.sendto(dnsmsg.build_response(q, addresses=["192.0.2.99"]), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sandbox(exec_root):
    path = str(exec_root / "netns" / "dns-test")
    create_sandbox(path)
    try:
        yield path
    finally:
        remove_sandbox(path)


def _ask_udp(ns: str, name: str, qtype=dnsmsg.TYPE_A) -> dnsmsg.Answer:
    from pyroute2.netns import create_socket

    s = create_socket(ns, socket.AF_INET, socket.SOCK_DGRAM, flags=0)
    try:
        s.settimeout(5)
        s.connect(("127.0.0.11", 53))  # connected, so a closed port is refused at once
        s.send(dnsmsg.build_query(42, name, qtype))
        return dnsmsg.parse_response(s.recv(4096))
    finally:
        s.close()


def _ask_tcp(ns: str, name: str) -> dnsmsg.Answer:
    from pyroute2.netns import create_socket

    s = create_socket(ns, socket.AF_INET, socket.SOCK_STREAM, flags=0)
    try:
        s.settimeout(5)
        s.connect(("127.0.0.11", 53))
        q = dnsmsg.build_query(43, name)
        s.sendall(struct.pack("!H", len(q)) + q)
        n = struct.unpack("!H", s.recv(2))[0]
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        return dnsmsg.parse_response(data)
    finally:
        s.close()


def test_local_names_forwarding_and_tcp(sandbox):
    table = DnsTable()
    table.add("n1", "app", "me", ["me"], "10.1.0.2")
    table.add("n1", "app", "api", ["api", "backend"], "10.1.0.3")
    upstream = FakeUpstream()
    dns = EmbeddedDns(table, timeout=2)
    try:
        dns.attach("me", sandbox, [upstream.addr])
        assert _ask_udp(sandbox, "backend").addresses == ("10.1.0.3",)
        assert _ask_udp(sandbox, "api.app").addresses == ("10.1.0.3",)
        assert _ask_udp(sandbox, "3.0.1.10.in-addr.arpa", dnsmsg.TYPE_PTR).names == ("api.app",)
        forwarded = _ask_udp(sandbox, "example.test")
        assert forwarded.addresses == ("192.0.2.99",) and upstream.seen == ["example.test"]
        assert _ask_tcp(sandbox, "backend").addresses == ("10.1.0.3",)
        dns.detach("me")
        with pytest.raises(OSError):
            _ask_udp(sandbox, "backend")  # nothing listens any more: refused or timeout
    finally:
        dns.close()
        upstream.close()


def test_unreachable_upstream_gives_servfail(sandbox):
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))  # bound but never answers
    dns = EmbeddedDns(DnsTable(), timeout=0.3)
    try:
        dns.attach("me", sandbox, [dead.getsockname()])
        assert _ask_udp(sandbox, "nowhere.test").rcode == dnsmsg.RCODE_SERVFAIL
    finally:
        dns.close()
        dead.close()

"""The userland port proxy's TCP relay: data integrity, back-pressure, half-close, refusal.

The proxy runs as berthd runs it (`ports.start_proxy`, its own process) inside
a throwaway namespace that plays the host; the "container" is a server on
127.0.0.2 in that same namespace, the client connects to 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest

from berth.network import netlink, ports


def _sock(ns: str) -> socket.socket:
    (s,) = netlink.sockets_in(ns, [(socket.AF_INET, socket.SOCK_STREAM, 0)])
    return s


class _Server:
    """A threaded TCP server inside `ns`; `handle(conn)` runs per connection."""

    def __init__(self, ns: str, handle) -> None:
        self.sock = _sock(ns)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.errors: list[BaseException] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            with conn:
                self.handle(conn)
        except BaseException as e:  # reported by the test
            self.errors.append(e)

    def close(self) -> None:
        self.sock.close()


def _recv_all(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def relay(host_ns):
    """start(target_port) -> host port of a proxy for it; every proxy is stopped after."""
    started: list[int] = []

    def start(target_port: int) -> int:
        proxy = ports.start_proxy(
            [
                {"proto": "tcp", "host_ip": "127.0.0.1", "host_port": 0,
                 "container_ip": "127.0.0.2", "container_port": target_port}
            ],
            netlink.ns_path(host_ns),
        )  # fmt: skip
        started.append(proxy.pid)
        return proxy.host_ports[0]

    try:
        yield start
    finally:
        for pid in started:
            ports.stop_proxy(pid)


def _connect(ns: str, port: int, timeout: float = 20) -> socket.socket:
    c = _sock(ns)
    c.settimeout(timeout)
    c.connect(("127.0.0.1", port))
    return c


def test_large_transfers_both_ways_with_a_late_reader(host_ns, relay):
    """Megabytes in each direction arrive intact though the client starts reading
    late (the relay must hold data back instead of dropping or reordering it)."""
    payload = os.urandom(8 << 20)  # more than the kernel's socket buffers hold

    def echo_back(conn: socket.socket) -> None:
        got = _recv_all(conn)
        conn.sendall(hashlib.sha256(got).digest() + payload)

    srv = _Server(host_ns, echo_back)
    try:
        port = relay(srv.port)
        c = _connect(host_ns, port)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 18)
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        time.sleep(0.3)  # the reply fills every buffer on the way before anyone reads
        answer = _recv_all(c)
        c.close()
    finally:
        srv.close()
    assert not srv.errors
    assert answer[:32] == hashlib.sha256(payload).digest()
    assert answer[32:] == payload


def test_half_close_and_the_server_speaking_first(host_ns, relay):
    """The client's end of stream reaches the server while the reply still flows
    back; a greeting sent before any request arrives too."""

    def greet_then_count(conn: socket.socket) -> None:
        conn.sendall(b"hello\n")
        got = _recv_all(conn)
        conn.sendall(f"{len(got)} bytes\n".encode())

    srv = _Server(host_ns, greet_then_count)
    try:
        port = relay(srv.port)
        c = _connect(host_ns, port)
        assert c.recv(6) == b"hello\n"
        c.sendall(b"x" * 1000)
        c.shutdown(socket.SHUT_WR)
        assert _recv_all(c) == b"1000 bytes\n"
        c.close()
    finally:
        srv.close()
    assert not srv.errors


def test_many_concurrent_connections(host_ns, relay):
    def echo(conn: socket.socket) -> None:
        conn.sendall(_recv_all(conn))

    srv = _Server(host_ns, echo)
    try:
        port = relay(srv.port)
        results: dict[int, bytes] = {}

        def client(i: int) -> None:
            c = _connect(host_ns, port)
            msg = f"client {i} ".encode() * 200
            c.sendall(msg)
            c.shutdown(socket.SHUT_WR)
            results[i] = _recv_all(c) == msg
            c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        srv.close()
    assert results == dict.fromkeys(range(60), True)
    assert not srv.errors


def test_nothing_listening_in_the_container_closes_the_client(host_ns, relay):
    s = _sock(host_ns)
    s.bind(("127.0.0.2", 0))
    unused = s.getsockname()[1]
    s.close()
    port = relay(unused)
    c = _connect(host_ns, port, timeout=10)
    try:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert c.recv(100) == b""
    except ConnectionError:
        pass  # as good as an end of stream: the client learns at once
    finally:
        c.close()


def _processes_marked(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_proxy_stopped_right_after_its_start_leaves_no_process(host_ns):
    """berthd binds the ports and does not wait for the proxy to start, so a
    container that exits at once stops a proxy that may still be starting (or
    forking its workers): nothing may be left behind."""
    import secrets

    marker = f"berth-test-{secrets.token_hex(6)}"
    for i in range(12):
        proxy = ports.start_proxy(
            [{"proto": "tcp", "host_ip": "127.0.0.1", "host_port": 0,
              "container_ip": "127.0.0.2", "container_port": 80}],
            netlink.ns_path(host_ns),
            owner=marker,
        )  # fmt: skip
        if i % 3:
            time.sleep(0.01 * i)  # at various points of its start
        ports.stop_proxy(proxy.pid)
    deadline = time.monotonic() + 10
    while _processes_marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_marked(marker) == []


def test_a_taken_port_fails_the_start_at_once(host_ns):
    s = _sock(host_ns)
    try:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(Exception, match="port is already allocated"):
            ports.start_proxy(
                [{"proto": "tcp", "host_ip": "127.0.0.1", "host_port": s.getsockname()[1],
                  "container_ip": "127.0.0.2", "container_port": 80}],
                netlink.ns_path(host_ns),
            )  # fmt: skip
    finally:
        s.close()

"""The embedded DNS server for user-defined networks (Docker's 127.0.0.11).

Each container attached to a user-defined network gets a UDP and a TCP socket
bound to 127.0.0.11:53 *inside its own network namespace* (a socket stays in
the namespace it was created in, whatever thread later reads it). One thread in
berthd serves every such socket: a query for a name known on one of the asking
container's networks (container name, network aliases, short id, `name.network`)
is answered from `DnsTable`; anything else is forwarded, bytes unchanged, to the
container's upstream resolvers from the daemon's own namespace, by a worker pool
so that a slow upstream never blocks local answers.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.network import dnsmsg
from berth.network.hosts import EMBEDDED_DNS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DnsRecord:
    network_id: str
    network_name: str
    container_id: str
    names: tuple[str, ...]  # lower-cased
    ip: str


class DnsTable:
    """Names per network, and which networks each container asks from (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], DnsRecord] = {}

    def add(
        self, network_id: str, network_name: str, container_id: str, names: list[str], ip: str
    ) -> None:
        names_l = tuple(dict.fromkeys(n.lower().rstrip(".") for n in names if n))
        with self._lock:
            self._records[(network_id, container_id)] = DnsRecord(
                network_id, network_name, container_id, names_l, ip
            )

    def remove(self, network_id: str, container_id: str) -> None:
        with self._lock:
            self._records.pop((network_id, container_id), None)

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            for key in [k for k in self._records if k[1] == container_id]:
                del self._records[key]

    def _visible(self, asker: str) -> list[DnsRecord]:
        nets = {r.network_id for r in self._records.values() if r.container_id == asker}
        return [r for r in self._records.values() if r.network_id in nets]

    def lookup(self, asker: str, name: str) -> list[str]:
        name = name.lower().rstrip(".")
        with self._lock:
            out = []
            for r in self._visible(asker):
                qualified = {f"{n}.{r.network_name.lower()}" for n in r.names}
                if name in r.names or name in qualified:
                    out.append(r.ip)
            return sorted(set(out))

    def reverse(self, asker: str, ip: str) -> str | None:
        with self._lock:
            for r in self._visible(asker):
                if r.ip == ip and r.names:
                    return f"{r.names[0]}.{r.network_name.lower()}"
        return None


@dataclass(slots=True)
class _Binding:
    container_id: str
    udp: socket.socket
    tcp: socket.socket
    upstreams: list[tuple[str, int]]


class EmbeddedDns:
    """Serves 127.0.0.11:53 in every attached namespace from one selector thread."""

    def __init__(
        self, table: DnsTable, *, address: str = EMBEDDED_DNS, port: int = 53, timeout: float = 3.0
    ):
        self.table = table
        self.address = address
        self.port = port
        self.timeout = timeout
        self._sel = selectors.DefaultSelector()
        self._bindings: dict[str, _Binding] = {}
        self._lock = threading.Lock()
        self._ops: list[tuple[str, _Binding]] = []
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="berth-dns")
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="berth-dns", daemon=True)
        self._thread.start()

    # -- attaching namespaces -------------------------------------------------

    def attach(self, container_id: str, netns_path: str, upstreams: list[tuple[str, int]]) -> None:
        """Open 127.0.0.11:53 (udp and tcp) inside `netns_path` for `container_id`."""
        from berth.network.netlink import sockets_in

        self.detach(container_id)
        udp, tcp = sockets_in(
            netns_path,
            [(socket.AF_INET, socket.SOCK_DGRAM, 0), (socket.AF_INET, socket.SOCK_STREAM, 0)],
        )
        try:
            udp.bind((self.address, self.port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.address, self.port))
            tcp.listen(64)
            udp.setblocking(False)
            tcp.setblocking(False)
        except OSError:
            udp.close()
            tcp.close()
            raise
        b = _Binding(container_id, udp, tcp, list(upstreams))
        with self._lock:
            self._bindings[container_id] = b
            self._ops.append(("add", b))
        self._wake()

    def detach(self, container_id: str) -> None:
        """Stop serving `container_id`; its sockets are closed by the serving thread."""
        with self._lock:
            b = self._bindings.pop(container_id, None)
            if b is None:
                return
            self._ops.append(("del", b))
        self._wake()

    def attached(self) -> list[str]:
        with self._lock:
            return list(self._bindings)

    def close(self) -> None:
        for cid in self.attached():
            self.detach(cid)
        self._stop = True
        self._wake()
        self._thread.join(5)
        self._apply_ops()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- serving --------------------------------------------------------------

    def _apply_ops(self) -> None:
        """Register and unregister sockets; only the serving thread calls this."""
        with self._lock:
            ops, self._ops = self._ops, []
        for op, b in ops:
            if op == "add":
                self._sel.register(b.udp, selectors.EVENT_READ, ("udp", b))
                self._sel.register(b.tcp, selectors.EVENT_READ, ("tcp", b))
                continue
            for s in (b.udp, b.tcp):
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(s)
                s.close()

    def _loop(self) -> None:
        while not self._stop:
            self._apply_ops()
            for key, _ in self._sel.select(timeout=1.0):
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                kind, b = key.data
                try:
                    if kind == "udp":
                        self._on_udp(b)
                    else:
                        conn, _ = b.tcp.accept()
                        self._pool.submit(self._serve_tcp, b, conn)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    log.debug("dns socket of %s: %s", b.container_id, e)

    def _on_udp(self, b: _Binding) -> None:
        data, peer = b.udp.recvfrom(4096)
        answer = self.answer_locally(b.container_id, data)
        if answer is not None:
            b.udp.sendto(answer, peer)
        else:
            self._pool.submit(self._forward_udp, b, data, peer)

    def answer_locally(self, container_id: str, data: bytes) -> bytes | None:
        """An answer from the table, or None when the query must be forwarded."""
        try:
            q = dnsmsg.parse_query(data)
        except InvalidArgument:
            return dnsmsg.error_response(data, dnsmsg.RCODE_FORMERR)
        qn = q.question
        if qn.qclass != dnsmsg.CLASS_IN:
            return None
        if qn.qtype == dnsmsg.TYPE_PTR:
            ip = dnsmsg.reverse_name_to_ip(qn.name)
            name = self.table.reverse(container_id, ip) if ip else None
            return dnsmsg.build_response(q, ptr=name) if name else None
        addrs = self.table.lookup(container_id, qn.name)
        if not addrs:
            return None
        if qn.qtype == dnsmsg.TYPE_A:
            return dnsmsg.build_response(q, addresses=addrs)
        return dnsmsg.build_response(q)  # known name, no record of that type (AAAA...)

    def _forward_udp(self, b: _Binding, data: bytes, peer: tuple[str, int]) -> None:
        reply = None
        for server in b.upstreams:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(self.timeout)
                    s.connect(server)
                    s.send(data)
                    reply = s.recv(65535)
                    break
            except OSError:
                continue
        if reply is None:
            reply = dnsmsg.error_response(data, dnsmsg.RCODE_SERVFAIL)
        with contextlib.suppress(OSError):
            b.udp.sendto(reply, peer)

    def _serve_tcp(self, b: _Binding, conn: socket.socket) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(self.timeout)
            try:
                while True:
                    head = _recv_exact(conn, 2)
                    if not head:
                        return
                    data = _recv_exact(conn, struct.unpack("!H", head)[0])
                    answer = self.answer_locally(b.container_id, data) or self._forward_tcp(b, data)
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
            except OSError:
                return

    def _forward_tcp(self, b: _Binding, data: bytes) -> bytes:
        for server in b.upstreams:
            try:
                with socket.create_connection(server, timeout=self.timeout) as s:
                    s.sendall(struct.pack("!H", len(data)) + data)
                    n = struct.unpack("!H", _recv_exact(s, 2))[0]
                    return _recv_exact(s, n)
            except (OSError, struct.error):
                continue
        return dnsmsg.error_response(data, dnsmsg.RCODE_SERVFAIL)


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            if buf:
                raise OSError("short read")
            return b""
        buf += chunk
    return buf

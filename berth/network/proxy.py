"""The userland port proxy: one process per container holding its published ports.

Kernel DNAT cannot catch connections a host process makes to 127.0.0.1 (they
never traverse PREROUTING and loopback is not routed to a bridge), so, as
Docker does with docker-proxy, a small process binds every published host port
and relays loopback connections to the container. Binding the port is also how
a port already taken by someone else is detected, with a clear error.

berthd binds (and listens on) the ports itself, so that a port already taken
fails the start at once and a chosen port is known at once; the proxy gets the
sockets as inherited descriptors, `python -m berth.network.proxy MAPPINGS_JSON
[OWNER]` with an "fd" in each mapping, and serves until SIGTERM. Nobody waits
for it to start: connections queue on the listening sockets meanwhile. It runs
in its own process group, so that it outlives berthd restarts and signals meant
for berthd's group; SIGTERM to it ends its workers too.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import sys
import threading

BUFSIZE = 65536
UDP_IDLE = 30.0


def bind(sock: socket.socket, proto: str, host_ip: str, port: int) -> None:
    """Bind (and for TCP, listen on) a published port, with Docker's error message."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host_ip or "0.0.0.0", port))
    except OSError as e:
        shown = f"{host_ip or '0.0.0.0'}:{port}"
        if e.errno == errno.EADDRINUSE:
            raise OSError(e.errno, f"Bind for {shown} failed: port is already allocated") from None
        raise OSError(e.errno, f"Bind for {shown} failed: {e.strerror}") from None
    if proto == "tcp":
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.listen(1024)


def _bind(proto: str, host_ip: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        bind(s, proto, host_ip, port)
    except OSError:
        s.close()
        raise
    return s


class _Side:
    """One socket of a relayed connection and what is still to be written to it."""

    __slots__ = ("closed_read", "connected", "events", "fd", "out", "peer", "shut_write", "sock")

    def __init__(self, sock: socket.socket, connected: bool) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer: _Side | None = None
        self.out = b""  # read from the peer, not yet written here
        self.connected = connected
        self.closed_read = False
        self.shut_write = False
        self.events = 0


_BASE = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET
_AGAIN = (BlockingIOError, InterruptedError)
_NOWAIT = socket.MSG_DONTWAIT  # accepted sockets stay blocking: one fcntl less each


class _TcpRelay:
    """All TCP forwarding of one process in one edge-triggered epoll loop.

    Each socket is registered once; EPOLLOUT is asked for only while a connect is
    in progress or data waits for room. A new connection's request is usually
    already there when it is accepted and the container's side connects within
    the connect call (veth and loopback deliver synchronously), so the request
    is forwarded at once: a short request/response costs three wake-ups
    (accept, response, client's close).
    """

    def __init__(self) -> None:
        self.ep = select.epoll()
        self.listeners: dict[int, tuple[socket.socket, tuple[str, int]]] = {}
        self.sides: dict[int, _Side] = {}

    def listen(self, sock: socket.socket, target: tuple[str, int]) -> None:
        sock.setblocking(False)
        self.listeners[sock.fileno()] = (sock, target)
        # several worker processes wait on the same listener: wake only one of them
        self.ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)

    def _accept(self, lsock: socket.socket, target: tuple[str, int]) -> None:
        for _ in range(64):
            try:
                fd, _ = lsock._accept()
            except _AGAIN:
                return
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, fd)
            up = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = up.connect_ex(target)
            if err not in (0, errno.EINPROGRESS):
                client.close()
                up.close()
                continue
            connected = err == 0
            if not connected:
                try:
                    up.getpeername()
                    connected = True  # the handshake finished inside connect
                except OSError:
                    pass
            a, b = _Side(client, True), _Side(up, connected)
            a.peer, b.peer = b, a
            self.sides[a.fd] = a
            self.sides[b.fd] = b
            try:
                self._pump(a, once=True)  # the request, if it is there already
            except OSError:
                self._close(a)
                continue
            if a.fd in self.sides:
                self._register(a)
                self._register(b)

    def _register(self, side: _Side) -> None:
        side.events = self._mask(side)
        self.ep.register(side.fd, side.events)

    @staticmethod
    def _mask(side: _Side) -> int:
        return _BASE | select.EPOLLOUT if side.out or not side.connected else _BASE

    def _update(self, side: _Side) -> None:
        want = self._mask(side)
        if want != side.events and side.fd in self.sides:
            side.events = want
            self.ep.modify(side.fd, want)

    def _close(self, side: _Side) -> None:
        # closing removes the socket from the epoll set: no other process or
        # descriptor shares it (workers fork before any connection exists)
        for x in (side, side.peer):
            if x is not None and self.sides.pop(x.fd, None) is not None:
                x.sock.close()

    def _flush(self, dst: _Side) -> None:
        """Write what waits for `dst`; then pass on the peer's end of stream."""
        if dst.out:
            try:
                n = dst.sock.send(dst.out, _NOWAIT)
            except _AGAIN:
                n = 0
            dst.out = dst.out[n:]
        if not dst.out and dst.peer.closed_read and not dst.shut_write:
            dst.shut_write = True
            dst.sock.shutdown(socket.SHUT_WR)

    def _pump(self, src: _Side, *, once: bool = False) -> None:
        """Move what `src` has to its peer until `src` is empty or the peer is full.
        `once`: one read (the socket is registered afterwards, which reports the rest)."""
        dst = src.peer
        while not src.closed_read and dst.connected and not dst.out:
            try:
                data = src.sock.recv(BUFSIZE, _NOWAIT)
            except _AGAIN:
                return
            if not data:
                src.closed_read = True
                if not (dst.closed_read and not src.out):  # else both ends go now
                    self._flush(dst)
                return
            try:
                n = dst.sock.send(data, _NOWAIT)
            except _AGAIN:
                n = 0
            if n < len(data):
                dst.out = data[n:]
            if once:
                return

    def _on_event(self, side: _Side, ev: int) -> None:
        peer = side.peer
        if not side.connected:
            if not ev & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
                return
            if side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self._close(side)
            side.connected = True
            self._pump(peer)  # what the client sent while we were connecting
        if ev & select.EPOLLOUT:
            self._flush(side)
            self._pump(peer)
        if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
            self._pump(side)
        if side.closed_read and peer.closed_read and not side.out and not peer.out:
            return self._close(side)
        self._update(side)
        self._update(peer)

    def run(self) -> None:
        listeners, sides = self.listeners, self.sides
        while True:
            ready = []
            for fd, ev in self.ep.poll():
                side = sides.get(fd)
                if side is None:
                    if fd in listeners:
                        ready.append(listeners[fd])
                    continue
                try:
                    self._on_event(side, ev)
                except OSError:
                    self._close(side)
            # accept last: a new socket may get the number of one closed above,
            # and an event still to come in this batch must not reach it
            for lsock, target in ready:
                self._accept(lsock, target)


def _serve_udp(listener: socket.socket, target: tuple[str, int]) -> None:
    peers: dict[tuple[str, int], socket.socket] = {}
    lock = threading.Lock()

    def replies(peer: tuple[str, int], up: socket.socket) -> None:
        up.settimeout(UDP_IDLE)
        try:
            while True:
                data = up.recv(BUFSIZE)
                listener.sendto(data, peer)
        except OSError:
            pass
        finally:
            with lock:
                peers.pop(peer, None)
            up.close()

    while True:
        data, peer = listener.recvfrom(BUFSIZE)
        with lock:
            up = peers.get(peer)
            if up is None:
                up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.connect(target)
                peers[peer] = up
                threading.Thread(target=replies, args=(peer, up), daemon=True).start()
        try:
            up.send(data)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # berthd may stop a proxy right after starting it (a container that exits at
    # once): from here on, SIGTERM ends the workers too
    signal.signal(signal.SIGTERM, lambda *_: _stop_group())
    mappings = json.loads(argv[0])
    sockets = [
        socket.socket(
            socket.AF_INET,
            socket.SOCK_STREAM if m["proto"] == "tcp" else socket.SOCK_DGRAM,
            0,
            int(m["fd"]),
        )
        for m in mappings
    ]
    tcp = [
        (s, (m["container_ip"], int(m["container_port"])))
        for m, s in zip(mappings, sockets, strict=True)
        if m["proto"] == "tcp"
    ]
    # TCP relaying is CPU-bound Python: one worker process per core (at most 4)
    # share the listeners. Workers die with the first process (parent-death
    # signal), which is the one berth stops by pid.
    workers = min(4, os.cpu_count() or 1) if tcp else 1
    first = os.getpid()
    for _ in range(workers - 1):
        if os.fork() == 0:
            from berth.linux.process import set_parent_death_signal

            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            set_parent_death_signal(signal.SIGKILL)
            if os.getppid() != first:  # the first process died before the line above
                os._exit(0)
            _relay(tcp)
            os._exit(0)
    for m, sock in zip(mappings, sockets, strict=True):
        if m["proto"] == "udp":
            target = (m["container_ip"], int(m["container_port"]))
            threading.Thread(target=_serve_udp, args=(sock, target), daemon=True).start()
    if tcp:
        _relay(tcp)
    else:
        while True:
            signal.pause()
    return 0


def _relay(listeners: list[tuple[socket.socket, tuple[str, int]]]) -> None:
    relay = _TcpRelay()
    for sock, target in listeners:
        relay.listen(sock, target)
    relay.run()


def _stop_group() -> None:
    """SIGTERM to the first process ends its workers too."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.killpg(0, signal.SIGTERM)
    finally:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

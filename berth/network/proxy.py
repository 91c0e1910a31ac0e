"""The userland port proxy: one process per container holding its published ports.

Kernel DNAT cannot catch connections a host process makes to 127.0.0.1 (they
never traverse PREROUTING and loopback is not routed to a bridge), so, as
Docker does with docker-proxy, a small process binds every published host port
and relays loopback connections to the container. Binding the port is also how
a port already taken by someone else is detected, with a clear error.

Run as `python -m berth.network.proxy FD MAPPINGS_JSON [OWNER]` with FD open for writing:
the process binds all ports, writes one JSON line to FD (`{"ports": [...]}`
with the actual port numbers, or `{"error": "..."}`), closes it, and serves
until SIGTERM. It runs in its own session so that it outlives berthd restarts.
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


def _bind(proto: str, host_ip: str, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host_ip or "0.0.0.0", port))
    except OSError as e:
        s.close()
        shown = f"{host_ip or '0.0.0.0'}:{port}"
        if e.errno == 98:
            raise OSError(e.errno, f"Bind for {shown} failed: port is already allocated") from None
        raise OSError(e.errno, f"Bind for {shown} failed: {e.strerror}") from None
    if kind == socket.SOCK_STREAM:
        s.listen(1024)
    return s


class _Side:
    """One socket of a relayed connection and what is still to be written to it."""

    __slots__ = ("closed_read", "connected", "events", "out", "peer", "shut_write", "sock")

    def __init__(self, sock: socket.socket, connected: bool) -> None:
        self.sock = sock
        self.peer: _Side | None = None
        self.out = b""
        self.connected = connected
        self.closed_read = False
        self.shut_write = False
        self.events = -1  # what epoll currently watches for


class _TcpRelay:
    """All TCP forwarding of the process in one epoll loop: no thread per connection."""

    def __init__(self) -> None:
        self.ep = select.epoll()
        self.listeners: dict[int, tuple[socket.socket, tuple[str, int]]] = {}
        self.sides: dict[int, _Side] = {}

    def listen(self, sock: socket.socket, target: tuple[str, int]) -> None:
        sock.setblocking(False)
        self.listeners[sock.fileno()] = (sock, target)
        # several worker processes wait on the same listener: wake only one of them
        self.ep.register(sock.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)

    def _want(self, side: _Side) -> None:
        ev = 0
        if not side.connected or side.out:
            ev |= select.EPOLLOUT
        peer = side.peer
        # read from this side only while the peer can take the data
        if (
            side.connected
            and not side.closed_read
            and peer is not None
            and peer.connected
            and not peer.out
        ):
            ev |= select.EPOLLIN
        self.ep.modify(side.sock.fileno(), ev)

    def _accept(self, lsock: socket.socket, target: tuple[str, int]) -> None:
        for _ in range(64):
            try:
                client, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.setblocking(False)
            up.setblocking(False)
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = up.connect_ex(target)
            if err not in (0, errno.EINPROGRESS):
                client.close()
                up.close()
                continue
            a, b = _Side(client, True), _Side(up, err == 0)
            a.peer, b.peer = b, a
            self.sides[client.fileno()] = a
            self.sides[up.fileno()] = b
            self.ep.register(client.fileno(), 0)
            self.ep.register(up.fileno(), 0)
            self._want(a)
            self._want(b)

    def _close(self, side: _Side) -> None:
        for x in (side, side.peer):
            if x is None:
                continue
            fd = x.sock.fileno()
            if fd in self.sides:
                del self.sides[fd]
                self.ep.unregister(fd)
                x.sock.close()

    def _on_event(self, side: _Side, ev: int) -> None:
        peer = side.peer
        assert peer is not None
        if not side.connected and ev & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
            if side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self._close(side)
            side.connected = True
        if ev & select.EPOLLOUT and side.out:
            try:
                n = side.sock.send(side.out)
            except (BlockingIOError, InterruptedError):
                n = 0
            side.out = side.out[n:]
        if not side.out and peer.closed_read and not side.shut_write:
            side.shut_write = True
            try:
                side.sock.shutdown(socket.SHUT_WR)
            except OSError:
                return self._close(side)
        if (
            ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR)
            and side.connected
            and not side.closed_read
        ):
            try:
                data = side.sock.recv(BUFSIZE)
            except (BlockingIOError, InterruptedError):
                data = None
            if data:
                try:
                    n = peer.sock.send(data)
                except (BlockingIOError, InterruptedError):
                    n = 0
                peer.out = data[n:]
            elif data == b"":
                side.closed_read = True
                if not peer.out and not peer.shut_write:
                    peer.shut_write = True
                    try:
                        peer.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        return self._close(side)
        if side.closed_read and peer.closed_read and not side.out and not peer.out:
            return self._close(side)
        self._want(side)
        self._want(peer)

    def run(self) -> None:
        while True:
            for fd, ev in self.ep.poll():
                if fd in self.listeners:
                    self._accept(*self.listeners[fd])
                    continue
                side = self.sides.get(fd)
                if side is None:
                    continue
                try:
                    self._on_event(side, ev)
                except OSError:
                    self._close(side)


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
    report = os.fdopen(int(argv[0]), "w")
    mappings = json.loads(argv[1])
    sockets = []
    try:
        for m in mappings:
            sockets.append(_bind(m["proto"], m["host_ip"], int(m["host_port"])))
    except OSError as e:
        report.write(json.dumps({"error": e.strerror or str(e)}) + "\n")
        report.close()
        return 1
    ports = [s.getsockname()[1] for s in sockets]
    report.write(json.dumps({"ports": ports}) + "\n")
    report.close()
    tcp = [
        (s, (m["container_ip"], int(m["container_port"])))
        for m, s in zip(mappings, sockets, strict=True)
        if m["proto"] == "tcp"
    ]
    # TCP relaying is CPU-bound Python: one worker process per core (at most 4)
    # share the listeners. Workers die with the first process (parent-death
    # signal), which is the one berth stops by pid.
    workers = min(4, os.cpu_count() or 1) if tcp else 1
    for _ in range(workers - 1):
        if os.fork() == 0:
            from berth.linux.process import set_parent_death_signal

            set_parent_death_signal(signal.SIGKILL)
            _relay(tcp)
            os._exit(0)
    for m, sock in zip(mappings, sockets, strict=True):
        if m["proto"] == "udp":
            target = (m["container_ip"], int(m["container_port"]))
            threading.Thread(target=_serve_udp, args=(sock, target), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: _stop_group())
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

"""The userland port proxy: one process per container holding its published ports.

Kernel DNAT cannot catch connections a host process makes to 127.0.0.1 (they
never traverse PREROUTING and loopback is not routed to a bridge), so, as
Docker does with docker-proxy, a small process binds every published host port
and relays loopback connections to the container. Binding the port is also how
a port already taken by someone else is detected, with a clear error.

Run as `python -m berth.network.proxy FD MAPPINGS_JSON` with FD open for writing:
the process binds all ports, writes one JSON line to FD (`{"ports": [...]}`
with the actual port numbers, or `{"error": "..."}`), closes it, and serves
until SIGTERM. It runs in its own session so that it outlives berthd restarts.
"""

from __future__ import annotations

import json
import os
import selectors
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


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Relay both directions between two connected TCP sockets until both close."""
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    open_dirs = 2
    try:
        while open_dirs:
            for key, _ in sel.select():
                src: socket.socket = key.fileobj  # type: ignore[assignment]
                dst: socket.socket = key.data
                try:
                    data = src.recv(BUFSIZE)
                except OSError:
                    data = b""
                if data:
                    try:
                        dst.sendall(data)
                        continue
                    except OSError:
                        return
                sel.unregister(src)
                open_dirs -= 1
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    return
    finally:
        sel.close()
        a.close()
        b.close()


def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_tcp_conn, args=(client, target), daemon=True).start()


def _tcp_conn(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _pipe(client, upstream)


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
    for m, s in zip(mappings, sockets, strict=True):
        serve = _serve_tcp if m["proto"] == "tcp" else _serve_udp
        target = (m["container_ip"], int(m["container_port"]))
        threading.Thread(target=serve, args=(s, target), daemon=True).start()
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())

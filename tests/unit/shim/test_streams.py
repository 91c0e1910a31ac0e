"""The shim's relay on plain pipes and socketpairs: fan-out, stdin, detach keys."""

from __future__ import annotations

import os
import socket

import pytest

from berth.shim import protocol as p
from berth.shim.streams import Conn, Loop, Relay


class Rig:
    """A relay over pipes (the 'container') with clients on socketpairs."""

    def __init__(self) -> None:
        self.loop = Loop()
        self.in_r, in_w = os.pipe()
        out_r, self.out_w = os.pipe()
        err_r, self.err_w = os.pipe()
        self.logged: list[tuple[str, bytes]] = []
        self.relay = Relay(self.loop, {out_r: p.STDOUT, err_r: p.STDERR}, in_w, log=self)
        self.peers: list[socket.socket] = []

    def write(self, stream: str, data: bytes) -> None:  # the log interface
        self.logged.append((stream, data))

    def close(self) -> None:
        pass

    def client(self, stdin=False, stdout=True, stderr=True, keys=b"", once=False) -> socket.socket:
        ours, theirs = socket.socketpair()
        conn = Conn(self.loop, ours, lambda c, m: None)
        conn.stdin, conn.stdout, conn.stderr = stdin, stdout, stderr
        conn.detach_keys, conn.stdin_once = keys, once
        self.relay.add(conn)
        theirs.settimeout(5)
        self.peers.append(theirs)
        return theirs

    def spin(self, n: int = 5) -> None:
        for _ in range(n):
            self.loop.run_once(0.01)

    def container_stdin(self) -> bytes:
        os.set_blocking(self.in_r, False)
        try:
            return os.read(self.in_r, 65536)
        except BlockingIOError:
            return b""

    def teardown(self) -> None:
        self.relay.close()
        for fd in (self.in_r, self.out_w, self.err_w):
            try:
                os.close(fd)
            except OSError:
                pass
        for s in self.peers:
            s.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.teardown()


def frames(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    buf = b""
    out = []
    while len(out) < count:
        buf += sock.recv(65536)
        while len(buf) >= 8:
            kind, size = p.HEADER.unpack_from(buf)
            if len(buf) < 8 + size:
                break
            out.append((kind, buf[8 : 8 + size]))
            buf = buf[8 + size :]
    return out


def test_output_fans_out_by_stream_and_is_logged(rig):
    both = rig.client()
    only_err = rig.client(stdout=False)
    os.write(rig.out_w, b"to out\n")
    rig.spin()
    os.write(rig.err_w, b"to err\n")
    rig.spin()
    assert frames(both, 2) == [(1, b"to out\n"), (2, b"to err\n")]
    assert frames(only_err, 1) == [(2, b"to err\n")]
    assert rig.logged == [("stdout", b"to out\n"), ("stderr", b"to err\n")]


def test_stdin_goes_through_and_detach_keys_are_caught(rig):
    typist = rig.client(stdin=True, keys=b"\x10\x11")
    watcher = rig.client()
    typist.sendall(b"abc\x10x\x10")  # a partial match followed by a non-match, then a prefix
    rig.spin()
    assert rig.container_stdin() == b"abc\x10x"  # the trailing ^P is held back
    typist.sendall(b"\x11")
    rig.spin()
    kind, payload = frames(typist, 1)[0]
    assert kind == p.END and b"detached" in payload
    assert typist.recv(10) == b""  # closed after END
    assert rig.relay.clients and rig.relay.clients[0].sock.fileno() >= 0
    os.write(rig.out_w, b"still here\n")
    rig.spin()
    assert frames(watcher, 1) == [(1, b"still here\n")]


def test_client_without_stdin_cannot_type(rig):
    watcher = rig.client(stdin=False)
    watcher.sendall(b"nope")
    rig.spin()
    assert rig.container_stdin() == b""


def test_stdin_once_eof_closes_the_container_stdin(rig):
    typist = rig.client(stdin=True, once=True)
    typist.sendall(b"last words")
    typist.shutdown(socket.SHUT_WR)
    rig.spin()
    os.set_blocking(rig.in_r, True)
    assert os.read(rig.in_r, 100) == b"last words"
    assert os.read(rig.in_r, 100) == b""  # end of file: the write end is closed


def test_end_reaches_every_client_after_drain(rig):
    a, b = rig.client(), rig.client()
    os.write(rig.out_w, b"bye\n")
    os.close(rig.out_w)
    os.close(rig.err_w)
    ended = []
    rig.relay.drain(5.0, lambda: ended.append(True))
    rig.spin()
    assert ended == [True]
    rig.relay.end("exited", 7)
    rig.spin()
    for sock in (a, b):
        got = frames(sock, 2)
        assert got[0] == (1, b"bye\n")
        assert got[1] == (p.END, b'{"reason":"exited","exit_code":7}')

"""streams.pump over a real socketpair and real pipes: framing, half-close, detach."""

from __future__ import annotations

import os
import socket
import sys
import threading

import pytest

from berth.cli import streams
from berth.client.api import Hijacked
from berth.client.frames import STDERR, STDOUT, encode_frame


class Pipes:
    """stdin/stdout/stderr replaced by pipes whose other ends the test holds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stdin: bytes) -> None:
        in_r, in_w = os.pipe()
        os.write(in_w, stdin)
        os.close(in_w)
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        monkeypatch.setattr(sys, "stdin", os.fdopen(in_r, "r"))
        monkeypatch.setattr(sys, "stdout", os.fdopen(out_w, "w"))
        monkeypatch.setattr(sys, "stderr", os.fdopen(err_w, "w"))

    def finish(self) -> tuple[bytes, bytes]:
        for f in (sys.stdin, sys.stdout, sys.stderr):
            f.close()
        out = b"".join(iter(lambda: os.read(self.out_r, 65536), b""))
        err = b"".join(iter(lambda: os.read(self.err_r, 65536), b""))
        os.close(self.out_r)
        os.close(self.err_r)
        return out, err


def serve(
    sock: socket.socket, reply: bytes, received: list[bytes], until_eof: bool
) -> threading.Thread:
    def run() -> None:
        with sock:
            data = b""
            while until_eof and (chunk := sock.recv(65536)):
                data += chunk
            if not until_eof:
                while b"\n" not in data:
                    data += sock.recv(65536)
            received.append(data)
            if reply:
                sock.sendall(reply)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_multiplexed_output_and_stdin_half_close(monkeypatch) -> None:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    server = serve(
        theirs,
        encode_frame(STDOUT, b"echo:") + encode_frame(STDERR, b"oops\n"),
        received,
        until_eof=True,
    )
    pipes = Pipes(monkeypatch, b"typed\n")
    conn = Hijacked(ours, encode_frame(STDOUT, b"early "))
    detached = streams.pump(conn, stdin=True, tty=False, detach_keys=b"\x10\x11")
    conn.close()
    server.join(5)
    out, err = pipes.finish()
    assert detached is False
    assert received == [b"typed\n"]  # the server saw EOF: stdin was half-closed
    assert (out, err) == (b"early echo:", b"oops\n")


def test_tty_detach_sequence_stays_on_the_client(monkeypatch) -> None:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    server = serve(theirs, b"", received, until_eof=False)
    pipes = Pipes(monkeypatch, b"ls\n\x10\x11never sent")
    conn = Hijacked(ours, b"raw tty bytes\r\n")
    detached = streams.pump(conn, stdin=True, tty=True, detach_keys=b"\x10\x11")
    server.join(5)
    conn.close()
    out, _ = pipes.finish()
    assert detached is True
    assert received == [b"ls\n"]
    assert out == b"raw tty bytes\r\n"

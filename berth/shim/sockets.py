"""Unix sockets the shim binds: its request socket, and the console sockets on
which a runtime hands over a pty master (SCM_RIGHTS).

sun_path holds 108 bytes; a longer path is reached through
``/proc/<pid>/fd/<directory fd>/<name>``, a short alias of the same directory.
"""

from __future__ import annotations

import contextlib
import os
import socket

from berth.shim.ociruntime import RuntimeFailed


def short_path(path: str) -> tuple[str, int | None]:
    """A socket address for `path` that fits sun_path: itself, or a /proc/<pid>/fd
    path through a directory fd the caller keeps open while the address is used."""
    if len(os.fsencode(path)) <= 100:
        return path, None
    dfd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
    return f"/proc/{os.getpid()}/fd/{dfd}/{os.path.basename(path)}", dfd


def listen(path: str) -> tuple[socket.socket, int]:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    addr, dfd = short_path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind(addr)
        sock.listen(64)
    finally:
        if dfd is not None:
            os.close(dfd)
    return sock, os.stat(path).st_ino


class ConsoleSocket:
    """Where the runtime sends the pty master of a process started with a terminal."""

    def __init__(self, path: str) -> None:
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.address, self._dfd = short_path(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.address)
        self.sock.listen(1)

    def receive(self, timeout: float = 10.0) -> int:
        """The master fd (the runtime has connected by the time it returned)."""
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(timeout)
            _, fds, _, _ = socket.recv_fds(conn, 1024, 4)
        if not fds:
            raise RuntimeFailed("the runtime sent no pty master on the console socket")
        for extra in fds[1:]:
            os.close(extra)
        return fds[0]

    def close(self) -> None:
        self.sock.close()
        if self._dfd is not None:
            os.close(self._dfd)
            self._dfd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

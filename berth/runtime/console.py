"""`run` of a terminal container without --console-socket: like runc, berth-runc
makes its own console socket, receives the pty master and relays it to its own
stdio (raw mode when stdin is a terminal) until the container's init exits."""

from __future__ import annotations

import contextlib
import os
import select
import socket


class ConsoleServer:
    """A listening unix socket at `path`; `receive()` takes the pty master from it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self._sock.bind(path)
        self._sock.listen(1)

    def receive(self) -> int:
        from berth.linux.fds import receive_fd

        return receive_fd(self._sock, f"console socket {self.path}")

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@contextlib.contextmanager
def raw_stdin():
    """Put stdin in raw mode if it is a terminal; restore it afterwards."""
    if not os.isatty(0):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(0)
    try:
        tty.setraw(0)
        yield
    finally:
        termios.tcsetattr(0, termios.TCSAFLUSH, saved)


def copy_size(master: int) -> None:
    """The pty gets our terminal's window size (at start and on SIGWINCH)."""
    if os.isatty(0):
        import fcntl
        import termios

        size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)


def relay(master: int, pid: int) -> int:
    """Copy stdin -> master and master -> stdout until `pid` exits; its wait status code."""
    from berth.runtime.runner import exit_code

    status = None
    inputs = [0, master]
    with raw_stdin():
        while True:
            readable, _, _ = select.select(inputs, [], [], 0.05)
            if master in readable:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the last slave closed
                    data = b""
                if not data:
                    inputs.remove(master)
                else:
                    os.write(1, data)
            if 0 in readable:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    inputs.remove(0)
            if status is None:
                done, wait_status = os.waitpid(-1, os.WNOHANG)
                if done == pid:
                    status = exit_code(wait_status)
            if status is not None and master not in inputs:
                return status
            if status is not None and master in inputs and not readable:
                return status

"""Free TCP ports on 127.0.0.1 (the kernel picks; a test binds it soon after)."""

from __future__ import annotations

import socket
import subprocess

from tests.support.poll import wait_until


def free_port() -> int:
    """A port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(
    port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0, what: str = "server"
) -> None:
    """Poll until something accepts on 127.0.0.1:`port`; fail if `proc` exits first."""

    def up() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(up, timeout, f"{what} to listen on 127.0.0.1:{port}")

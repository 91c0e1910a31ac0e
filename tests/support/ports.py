"""Free TCP ports on 127.0.0.1 (the kernel picks; a test binds it soon after)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator

from tests.support import procs
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


@contextlib.contextmanager
def serving(
    argv: list[str], port: int, what: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run a server that listens on 127.0.0.1:`port`; yields "127.0.0.1:PORT" once
    it accepts, and stops it (by pid) afterwards."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        wait_listening(port, proc, what=what)
        yield f"127.0.0.1:{port}"
    finally:
        procs.stop(proc, 10)

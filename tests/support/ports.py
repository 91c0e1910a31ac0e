"""Free TCP ports on 127.0.0.1 (the kernel picks; a test binds it soon after)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""keyctl(2): a container's own session keyring."""

from __future__ import annotations

import os

from berth.linux.libc import c_char_p, check, libc

KEYCTL_JOIN_SESSION_KEYRING = 1
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}


def join_session_keyring(name: str) -> int:
    """Start a new session keyring called `name` for this process; its serial."""
    return check(
        libc.syscall(
            _SYS_KEYCTL[os.uname().machine],
            KEYCTL_JOIN_SESSION_KEYRING,
            c_char_p(name.encode()),
        ),
        f"join session keyring {name}",
    )

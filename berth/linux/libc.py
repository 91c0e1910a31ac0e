"""Loading libc once and turning a failed call into an OSError with context."""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> int:
    """Return result, or raise OSError(errno) naming `what` when the call failed."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result

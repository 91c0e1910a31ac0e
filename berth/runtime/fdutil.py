"""Closing every inherited descriptor except the few a process still needs."""

from __future__ import annotations

import os


def close_all_except(keep: set[int]) -> None:
    """Close fds >= 3 not in `keep` (close_range under the hood)."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)

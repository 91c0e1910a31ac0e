"""Reading /proc/self/mountinfo: which paths are mount points now.

`os.path.ismount` compares device numbers, so it misses a bind mount of a
directory on the same filesystem (vfs rootfs, `o=bind` volumes); mountinfo does not.
"""

from __future__ import annotations

import os


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Every mount point, in mount order (a path may appear more than once)."""
    with open(mountinfo) as f:
        return [_unescape(line.split()[4]) for line in f if line.strip()]


def is_mounted(path: str | os.PathLike[str]) -> bool:
    return os.path.realpath(path) in mount_points()


def mounts_under(root: str | os.PathLike[str]) -> list[str]:
    """Mount points at or below `root`, deepest first (for cleanup after a crash)."""
    real = os.path.realpath(root)
    found = {p for p in mount_points() if p == real or p.startswith(real + "/")}
    return sorted(found, key=len, reverse=True)

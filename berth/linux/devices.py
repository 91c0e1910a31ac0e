"""Device nodes: mknod(2) with the path in the error."""

from __future__ import annotations

import os
import stat


def mknod(path: str, kind: str, major: int, minor: int, mode: int) -> None:
    """Create a character ("c"/"u"), block ("b") or fifo ("p") node at `path`."""
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    try:
        os.mknod(path, kinds[kind] | (mode & 0o7777), os.makedev(major, minor))
    except OSError as e:
        raise OSError(e.errno, f"mknod {path} ({kind} {major}:{minor}): {e.strerror}") from e

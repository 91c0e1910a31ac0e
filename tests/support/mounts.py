"""Mount points under a test's directories, and lazily removing them."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path


def mounts_under(*roots: Path | str) -> list[str]:
    """Mount points at or below any of `roots`, in mount order (parents first)."""
    prefixes = [str(r).rstrip("/") for r in roots]
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4]
            if any(target == p or target.startswith(p + "/") for p in prefixes):
                found.append(target)
    return found


def unmount_all(targets: list[str]) -> None:
    """Lazy-unmount `targets`, the last mounted first."""
    for target in reversed(targets):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


@contextlib.contextmanager
def unmounting(path: Path) -> Iterator[Path]:
    """Yields `path`; afterwards every mount at or below it is unmounted (through
    berth's own unmount, deepest first), whatever the test left."""
    from berth.storage import mounting

    try:
        yield path
    finally:
        for point in mounting.mounts_under(path):
            mounting.unmount(Path(point))

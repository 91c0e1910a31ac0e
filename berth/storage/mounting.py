"""Making and undoing the mounts a snapshotter describes.

Overlay mounts whose lowerdirs are relative (images of 100+ layers) must be
made from the snapshotter's root as the working directory; changing the cwd
of a threaded daemon is not safe, so those go through util-linux `mount` in
a child process started with that cwd. Everything else goes through the
berth.linux seam.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from berth.errors import InternalError
from berth.linux import mount as m
from berth.storage.snapshotter import Mount


def mount_all(mounts: list[Mount], target: Path) -> None:
    """Mount the snapshot's mounts (in order) at `target`."""
    for mnt in mounts:
        _mount_one(mnt, str(target))


def _mount_one(mnt: Mount, target: str) -> None:
    if mnt.type == "bind":
        flags = m.MS_BIND | (m.MS_REC if "rbind" in mnt.options else 0)
        m.mount(mnt.source, target, None, flags)
        if "ro" in mnt.options:
            m.mount(None, target, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY)
        return
    if mnt.cwd is None:
        m.mount(mnt.source, target, mnt.type, 0, mnt.data())
        return
    proc = subprocess.run(
        ["mount", "-t", mnt.type, "-o", mnt.data(), mnt.source, target],
        cwd=mnt.cwd,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise InternalError(f"mount {mnt.type} on {target}: {proc.stderr.strip()}")


def is_mounted(target: Path) -> bool:
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if _unescape(line.split()[4]) == real:
                return True
    return False


def unmount(target: Path) -> None:
    """Unmount everything stacked at `target` (no error when nothing is mounted)."""
    while is_mounted(target):
        try:
            m.umount(str(target))
        except OSError:
            m.umount(str(target), m.MNT_DETACH)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below `root`, deepest first (for cleanup after a crash)."""
    real = os.path.realpath(root)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == real or point.startswith(real + "/"):
                out.append(point)
    return sorted(set(out), key=len, reverse=True)


def _unescape(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )

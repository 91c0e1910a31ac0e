"""Making and undoing the mounts a snapshotter describes.

Overlay mounts whose lowerdirs are relative (images of 100+ layers) must be
made from the snapshotter's root as the working directory; changing the cwd
of a threaded daemon is not safe, so those go through util-linux `mount` in
a child process started with that cwd. Everything else goes through the
berth.linux seam.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from berth.errors import InternalError
from berth.linux import mount as m
from berth.linux.mountinfo import is_mounted, mounts_under

__all__ = ["is_mounted", "mount_all", "mounts_under", "unmount"]
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


def unmount(target: Path) -> None:
    """Unmount everything stacked at `target` (no error when nothing is mounted)."""
    while is_mounted(target):
        try:
            m.umount(str(target))
        except OSError:
            m.umount(str(target), m.MNT_DETACH)

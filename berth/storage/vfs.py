"""The vfs snapshotter: every snapshot is a full copy of its parent.

    <root>/<id>/fs          the snapshot's whole tree
    <root>/<id>/meta.json   {"name", "kind", "parent", "created"}

No kernel support needed (any filesystem, no overlayfs): the fallback when
overlay cannot be used, chosen with `--storage-driver vfs`. Deletions in
layers are applied by deleting in place. Copies use `cp -a` (hard links,
xattrs, devices, reflinks where the filesystem has them). Creation and removal
are atomic renames, as in the overlay snapshotter.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from berth.errors import InternalError, InvalidArgument
from berth.storage.snapshotdir import SnapshotDirs
from berth.storage.snapshotter import ApplyTarget, Kind, Mount, WhiteoutFormat


class VfsSnapshotter(SnapshotDirs):
    name = "vfs"
    independent_layers = False
    data = "fs"

    def apply_target(self, key: str) -> ApplyTarget:
        m = self._writable(key)
        lowers = (self._dir(m["parent"]) / "fs",) if m["parent"] else ()
        return ApplyTarget(self._dir(key) / "fs", WhiteoutFormat.DELETE, lowers)

    def lower_dirs(self, key: str) -> tuple[Path, ...]:
        parent = self._meta(key)["parent"]
        return (self._dir(parent) / "fs",) if parent else ()

    def mounts(self, key: str) -> list[Mount]:
        m = self._meta(key)
        ro = m["kind"] == Kind.COMMITTED.value or m.get("view")
        return [Mount("bind", str(self._dir(key) / "fs"), ("rbind", "ro" if ro else "rw"))]

    def _fill(self, tmp: Path, final: Path, parent: str | None) -> None:
        if not parent:
            (tmp / "fs").mkdir(mode=0o755)
            return
        proc = subprocess.run(
            ["cp", "-a", "--reflink=auto", str(self._dir(parent) / "fs"), str(tmp / "fs")],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise InternalError(f"snapshot {final.name}: copying {parent}: {proc.stderr.strip()}")

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        m = self._active(key)
        if parent is not None and parent != m["parent"]:
            raise InvalidArgument(f"snapshot {key}: vfs snapshots cannot change parent")
        self._rename_committed(m, key, name)

    def remove(self, key: str) -> None:
        shutil.rmtree(self._take_away(key), ignore_errors=True)

"""The overlay snapshotter: one directory per layer, stacked by kernel overlayfs.

    <root>/<id>/diff        the layer's files (upper dir while active)
    <root>/<id>/work        overlayfs work dir (active snapshots)
    <root>/<id>/link        this snapshot's short name; <root>/l/<link> -> ../<id>/diff
    <root>/<id>/lower       parents' short names, nearest first ("l/AB12:l/CD34")
    <root>/<id>/meta.json   {"name", "kind", "parent", "created"}

`<id>` is the hex of the chain id for committed layers (so every image with
the same chain shares the directory) and sha256(key) for active snapshots.
A snapshot appears by renaming a fully built temporary directory into place,
and disappears by renaming it away before deleting, so a crash never leaves
a half-made snapshot under a real id. Lower dirs are given by their short
links; when the absolute paths would exceed a page of mount options (images
of 100+ layers), the mount carries relative paths and `cwd=<root>`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import string
from pathlib import Path

from berth.errors import Conflict
from berth.storage.snapshotdir import SnapshotDirs
from berth.storage.snapshotter import ApplyTarget, Kind, Mount, WhiteoutFormat

PAGE_LIMIT = 4096 - 512  # room for upperdir/workdir and the other options
_LINK_ALPHABET = string.ascii_uppercase + string.digits


class OverlaySnapshotter(SnapshotDirs):
    name = "overlay2"
    independent_layers = True
    data = "diff"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        (self.root / "l").mkdir(exist_ok=True)

    # -- reading ------------------------------------------------------------

    def apply_target(self, key: str) -> ApplyTarget:
        self._writable(key)
        return ApplyTarget(self._dir(key) / "diff", WhiteoutFormat.OVERLAY, self.lower_dirs(key))

    def lower_dirs(self, key: str) -> tuple[Path, ...]:
        """The diff dirs below this snapshot, nearest first."""
        out = []
        parent = self._meta(key)["parent"]
        while parent:
            out.append(self._dir(parent) / "diff")
            parent = self._meta(parent)["parent"]
        return tuple(out)

    # -- mounts ---------------------------------------------------------------

    def _lowers(self, key: str) -> list[str]:
        text = (self._dir(key) / "lower").read_text().strip()
        return [x for x in text.split(":") if x]

    def _link(self, key: str) -> str:
        return (self._dir(key) / "link").read_text().strip()

    def _lower_of_child(self, parent: str) -> str:
        """The `lower` file content of a snapshot whose parent is `parent`."""
        return ":".join([f"l/{self._link(parent)}", *self._lowers(parent)])

    def mounts(self, key: str) -> list[Mount]:
        m = self._meta(key)
        d = self._dir(key)
        lowers = self._lowers(key)
        if m["kind"] == Kind.ACTIVE.value and not m.get("view"):
            if not lowers:
                return [Mount("bind", str(d / "diff"), ("rbind", "rw"))]
            return [self._overlay(lowers, [f"upperdir={d / 'diff'}", f"workdir={d / 'work'}"])]
        # read-only view (or a committed snapshot): the layer and its parents
        chain = [f"l/{self._link(key)}", *lowers] if m["kind"] == Kind.COMMITTED.value else lowers
        if len(chain) == 1:
            target = os.path.realpath(self.root / chain[0])
            return [Mount("bind", target, ("rbind", "ro"))]
        return [self._overlay(chain, [])]

    def _overlay(self, lowers: list[str], extra: list[str]) -> Mount:
        absolute = ":".join(str(self.root / x) for x in lowers)
        options = [f"lowerdir={absolute}", *extra, "index=off"]
        if len(",".join(options)) <= PAGE_LIMIT:
            return Mount("overlay", "overlay", tuple(options))
        options = [f"lowerdir={':'.join(lowers)}", *extra, "index=off"]
        return Mount("overlay", "overlay", tuple(options), cwd=str(self.root))

    # -- changing -----------------------------------------------------------

    def _fill(self, tmp: Path, final: Path, parent: str | None) -> None:
        (tmp / "diff").mkdir(mode=0o755)
        (tmp / "work").mkdir()
        link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(12))
        (tmp / "link").write_text(link)
        (tmp / "lower").write_text(self._lower_of_child(parent) if parent else "")
        os.symlink(f"../{final.name}/diff", self.root / "l" / link)

    def _unfill(self, tmp: Path) -> None:
        os.unlink(self.root / "l" / (tmp / "link").read_text())

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        """Make `key` read-only as `name`. `parent` (given for a layer unpacked on its
        own, see independent_layers) replaces the parent set at prepare."""
        m = self._active(key)
        src = self._dir(key)
        if self._dir(name).exists():
            raise Conflict(f"snapshot {name}: already exists")
        if parent is not None and parent != m["parent"]:
            self._committed(parent)
            (src / "lower").write_text(self._lower_of_child(parent))
            m["parent"] = parent
        shutil.rmtree(src / "work", ignore_errors=True)
        dst = self._rename_committed(m, key, name)
        link = self._link(name)
        tmp_link = self.root / "l" / f".{link}.{secrets.token_hex(4)}"
        os.symlink(f"../{dst.name}/diff", tmp_link)
        os.rename(tmp_link, self.root / "l" / link)

    def remove(self, key: str) -> None:
        link = self._link(key) if self.exists(key) else None
        gone = self._take_away(key)
        if link:
            try:
                os.unlink(self.root / "l" / link)
            except FileNotFoundError:
                pass
        shutil.rmtree(gone, ignore_errors=True)

    def recover(self) -> list[str]:
        """Delete leftovers of interrupted prepares/removes and dangling links."""
        removed = super().recover()
        for entry in os.scandir(self.root / "l"):
            if not os.path.exists(entry.path):
                os.unlink(entry.path)
        return removed

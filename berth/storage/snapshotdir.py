"""What the overlay and vfs snapshotters share: one directory per snapshot under
`root`, named by `snapshot_id(key)`, holding `meta.json` and the data dir.

Both make a snapshot appear by renaming a fully built temporary directory into
place and disappear by renaming it away before deleting, and both commit by
renaming the directory and then its new `meta.json`; so a crash leaves either
the old or the new state, and `recover` finishes or drops the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.storage.snapshotter import Info, Kind, Mount, Usage
from berth.storage.usage import dir_usage

_PENDING_META = ".meta.json.tmp"


def snapshot_id(key: str) -> str:
    """Directory name for a key: the hex of a sha256 chain id, else sha256(key)."""
    if not key:
        raise InvalidArgument("empty snapshot key")
    if (
        key.startswith("sha256:")
        and len(key) == 71
        and all(c in "0123456789abcdef" for c in key[7:])
    ):
        return key[7:]
    return hashlib.sha256(key.encode()).hexdigest()


class SnapshotDirs:
    """The metadata half of a snapshotter; subclasses add the data layout and mounts."""

    data = "fs"  # the name of the dir holding a snapshot's files

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- reading ------------------------------------------------------------

    def _dir(self, key: str) -> Path:
        return self.root / snapshot_id(key)

    def _meta(self, key: str) -> dict:
        try:
            meta = json.loads((self._dir(key) / "meta.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"snapshot {key}: not found") from None
        if meta["name"] != key:
            raise NotFound(f"snapshot {key}: not found")
        return meta

    def _committed(self, key: str) -> dict:
        """The meta of a parent, which must be committed."""
        meta = self._meta(key)
        if meta["kind"] != Kind.COMMITTED.value:
            raise InvalidArgument(f"snapshot {key}: parent must be committed")
        return meta

    def exists(self, key: str) -> bool:
        try:
            self._meta(key)
        except NotFound:
            return False
        return True

    def stat(self, key: str) -> Info:
        m = self._meta(key)
        return Info(m["name"], Kind(m["kind"]), m["parent"], m["created"])

    def walk(self) -> Iterator[Info]:
        for entry in os.scandir(self.root):
            if len(entry.name) != 64 or entry.name.startswith("."):
                continue  # temporaries, and overlay's link dir `l`
            try:
                m = json.loads(Path(entry.path, "meta.json").read_text())
            except (FileNotFoundError, NotADirectoryError, ValueError):
                continue
            yield Info(m["name"], Kind(m["kind"]), m["parent"], m["created"])

    def upper_dir(self, key: str) -> Path:
        self._meta(key)
        return self._dir(key) / self.data

    def usage(self, key: str) -> Usage:
        self._meta(key)
        return dir_usage(self._dir(key) / self.data)

    def mounts(self, key: str) -> list[Mount]:
        raise NotImplementedError

    # -- changing -----------------------------------------------------------

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        self._create(key, parent, view=False)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, view=True)
        return self.mounts(key)

    def _create(self, key: str, parent: str | None, view: bool) -> None:
        if parent:
            self._committed(parent)
        final = self._dir(key)
        if final.exists():
            raise Conflict(f"snapshot {key}: already exists")
        tmp = self.root / f".tmp-{secrets.token_hex(8)}"
        tmp.mkdir()
        try:
            self._fill(tmp, final, parent)
            meta = {
                "name": key,
                "kind": Kind.ACTIVE.value,
                "parent": parent,
                "created": time.time(),
                "view": view,
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            try:
                os.rename(tmp, final)
            except OSError as e:
                self._unfill(tmp)
                raise Conflict(f"snapshot {key}: already exists") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _fill(self, tmp: Path, final: Path, parent: str | None) -> None:
        """Build the new snapshot's data in `tmp` (renamed to `final` afterwards)."""
        raise NotImplementedError

    def _unfill(self, tmp: Path) -> None:
        """Undo what `_fill` made outside `tmp` when the rename into place fails."""

    def _writable(self, key: str) -> dict:
        meta = self._meta(key)
        if meta["kind"] != Kind.ACTIVE.value:
            raise Conflict(f"snapshot {key}: committed snapshots are read-only")
        return meta

    def _active(self, key: str) -> dict:
        meta = self._meta(key)
        if meta["kind"] != Kind.ACTIVE.value:
            raise InvalidArgument(f"snapshot {key}: not active")
        return meta

    def _rename_committed(self, meta: dict, key: str, name: str) -> Path:
        """Commit step shared by both layouts: the directory moves to `name`'s id with
        a pending meta, which replaces meta.json once the rename is done."""
        src, dst = self._dir(key), self._dir(name)
        if dst.exists():
            raise Conflict(f"snapshot {name}: already exists")
        meta.update(name=name, kind=Kind.COMMITTED.value, view=False)
        (src / _PENDING_META).write_text(json.dumps(meta))
        try:
            os.rename(src, dst)  # until the meta names `name`, nothing sees it committed
        except OSError as e:
            (src / _PENDING_META).unlink(missing_ok=True)
            raise Conflict(f"snapshot {name}: already exists") from e
        os.rename(dst / _PENDING_META, dst / "meta.json")
        return dst

    def _take_away(self, key: str) -> Path:
        """Check `key` can go (no children), rename it aside and return where it went."""
        self._meta(key)
        for info in self.walk():
            if info.parent == key:
                raise Conflict(f"snapshot {key}: has children ({info.name})")
        gone = self.root / f".del-{secrets.token_hex(8)}"
        os.rename(self._dir(key), gone)
        return gone

    def recover(self) -> list[str]:
        """Delete leftovers of interrupted prepares/removes; finish interrupted commits."""
        removed = []
        for entry in os.scandir(self.root):
            if entry.name.startswith((".tmp-", ".del-")):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
            elif entry.is_dir() and Path(entry.path, _PENDING_META).exists():
                os.rename(Path(entry.path, _PENDING_META), Path(entry.path, "meta.json"))
        return removed

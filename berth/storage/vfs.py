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

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from berth.errors import Conflict, InternalError, InvalidArgument, NotFound
from berth.storage.overlay import snapshot_id
from berth.storage.snapshotter import ApplyTarget, Info, Kind, Mount, Usage, WhiteoutFormat
from berth.storage.usage import dir_usage


class VfsSnapshotter:
    name = "vfs"
    independent_layers = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

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
            if entry.name.startswith("."):
                continue
            try:
                m = json.loads(Path(entry.path, "meta.json").read_text())
            except (FileNotFoundError, NotADirectoryError, ValueError):
                continue
            yield Info(m["name"], Kind(m["kind"]), m["parent"], m["created"])

    def upper_dir(self, key: str) -> Path:
        self._meta(key)
        return self._dir(key) / "fs"

    def apply_target(self, key: str) -> ApplyTarget:
        m = self._meta(key)
        if m["kind"] != Kind.ACTIVE.value:
            raise Conflict(f"snapshot {key}: committed snapshots are read-only")
        lowers = (self._dir(m["parent"]) / "fs",) if m["parent"] else ()
        return ApplyTarget(self._dir(key) / "fs", WhiteoutFormat.DELETE, lowers)

    def lower_dirs(self, key: str) -> tuple[Path, ...]:
        parent = self._meta(key)["parent"]
        return (self._dir(parent) / "fs",) if parent else ()

    def usage(self, key: str) -> Usage:
        self._meta(key)
        return dir_usage(self._dir(key) / "fs")

    def mounts(self, key: str) -> list[Mount]:
        m = self._meta(key)
        ro = m["kind"] == Kind.COMMITTED.value or m.get("view")
        return [Mount("bind", str(self._dir(key) / "fs"), ("rbind", "ro" if ro else "rw"))]

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        self._create(key, parent, view=False)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, view=True)
        return self.mounts(key)

    def _create(self, key: str, parent: str | None, view: bool) -> None:
        if parent and self._meta(parent)["kind"] != Kind.COMMITTED.value:
            raise InvalidArgument(f"snapshot {parent}: parent must be committed")
        final = self._dir(key)
        if final.exists():
            raise Conflict(f"snapshot {key}: already exists")
        tmp = self.root / f".tmp-{secrets.token_hex(8)}"
        tmp.mkdir()
        try:
            if parent:
                proc = subprocess.run(
                    ["cp", "-a", "--reflink=auto", str(self._dir(parent) / "fs"), str(tmp / "fs")],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode != 0:
                    raise InternalError(f"snapshot {key}: copying {parent}: {proc.stderr.strip()}")
            else:
                (tmp / "fs").mkdir(mode=0o755)
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
                raise Conflict(f"snapshot {key}: already exists") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        m = self._meta(key)
        if m["kind"] != Kind.ACTIVE.value:
            raise InvalidArgument(f"snapshot {key}: not active")
        if parent is not None and parent != m["parent"]:
            raise InvalidArgument(f"snapshot {key}: vfs snapshots cannot change parent")
        src, dst = self._dir(key), self._dir(name)
        if dst.exists():
            raise Conflict(f"snapshot {name}: already exists")
        m.update(name=name, kind=Kind.COMMITTED.value, view=False)
        (src / ".meta.json.tmp").write_text(json.dumps(m))
        try:
            os.rename(src, dst)
        except OSError as e:
            (src / ".meta.json.tmp").unlink(missing_ok=True)
            raise Conflict(f"snapshot {name}: already exists") from e
        os.rename(dst / ".meta.json.tmp", dst / "meta.json")

    def remove(self, key: str) -> None:
        self._meta(key)
        for info in self.walk():
            if info.parent == key:
                raise Conflict(f"snapshot {key}: has children ({info.name})")
        gone = self.root / f".del-{secrets.token_hex(8)}"
        os.rename(self._dir(key), gone)
        shutil.rmtree(gone, ignore_errors=True)

    def recover(self) -> list[str]:
        removed = []
        for entry in os.scandir(self.root):
            if entry.name.startswith((".tmp-", ".del-")):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
            elif entry.is_dir() and Path(entry.path, ".meta.json.tmp").exists():
                os.rename(Path(entry.path, ".meta.json.tmp"), Path(entry.path, "meta.json"))
        return removed

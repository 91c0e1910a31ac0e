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

import hashlib
import json
import os
import secrets
import shutil
import string
import time
from collections.abc import Iterator
from pathlib import Path

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.storage.snapshotter import (
    ApplyTarget,
    Info,
    Kind,
    Mount,
    Usage,
    WhiteoutFormat,
)
from berth.storage.usage import dir_usage

PAGE_LIMIT = 4096 - 512  # room for upperdir/workdir and the other options
_LINK_ALPHABET = string.ascii_uppercase + string.digits


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


class OverlaySnapshotter:
    name = "overlay2"
    independent_layers = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "l").mkdir(parents=True, exist_ok=True)

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
            if entry.name == "l" or entry.name.startswith("."):
                continue
            try:
                m = json.loads(Path(entry.path, "meta.json").read_text())
            except (FileNotFoundError, NotADirectoryError, ValueError):
                continue
            yield Info(m["name"], Kind(m["kind"]), m["parent"], m["created"])

    def upper_dir(self, key: str) -> Path:
        self._meta(key)
        return self._dir(key) / "diff"

    def apply_target(self, key: str) -> ApplyTarget:
        m = self._meta(key)
        if m["kind"] != Kind.ACTIVE.value:
            raise Conflict(f"snapshot {key}: committed snapshots are read-only")
        return ApplyTarget(self._dir(key) / "diff", WhiteoutFormat.OVERLAY, self.lower_dirs(key))

    def lower_dirs(self, key: str) -> tuple[Path, ...]:
        """The diff dirs below this snapshot, nearest first."""
        out = []
        parent = self._meta(key)["parent"]
        while parent:
            out.append(self._dir(parent) / "diff")
            parent = self._meta(parent)["parent"]
        return tuple(out)

    def usage(self, key: str) -> Usage:
        self._meta(key)
        return dir_usage(self._dir(key) / "diff")

    # -- mounts ---------------------------------------------------------------

    def _lowers(self, key: str) -> list[str]:
        text = (self._dir(key) / "lower").read_text().strip()
        return [x for x in text.split(":") if x]

    def _link(self, key: str) -> str:
        return (self._dir(key) / "link").read_text().strip()

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

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        self._create(key, parent, view=False)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, view=True)
        return self.mounts(key)

    def _create(self, key: str, parent: str | None, view: bool) -> None:
        lower = ""
        if parent:
            pm = self._meta(parent)
            if pm["kind"] != Kind.COMMITTED.value:
                raise InvalidArgument(f"snapshot {parent}: parent must be committed")
            parent_lowers = self._lowers(parent)
            lower = ":".join([f"l/{self._link(parent)}", *parent_lowers])
        final = self._dir(key)
        if final.exists():
            raise Conflict(f"snapshot {key}: already exists")
        tmp = self.root / f".tmp-{secrets.token_hex(8)}"
        tmp.mkdir()
        try:
            (tmp / "diff").mkdir(mode=0o755)
            (tmp / "work").mkdir()
            link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(12))
            (tmp / "link").write_text(link)
            (tmp / "lower").write_text(lower)
            meta = {
                "name": key,
                "kind": Kind.ACTIVE.value,
                "parent": parent,
                "created": time.time(),
                "view": view,
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            os.symlink(f"../{final.name}/diff", self.root / "l" / link)
            try:
                os.rename(tmp, final)
            except OSError as e:
                os.unlink(self.root / "l" / link)
                raise Conflict(f"snapshot {key}: already exists") from e
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        """Make `key` read-only as `name`. `parent` (given for a layer unpacked on its
        own, see independent_layers) replaces the parent set at prepare."""
        m = self._meta(key)
        if m["kind"] != Kind.ACTIVE.value:
            raise InvalidArgument(f"snapshot {key}: not active")
        src = self._dir(key)
        dst = self._dir(name)
        if dst.exists():
            raise Conflict(f"snapshot {name}: already exists")
        if parent is not None and parent != m["parent"]:
            pm = self._meta(parent)
            if pm["kind"] != Kind.COMMITTED.value:
                raise InvalidArgument(f"snapshot {parent}: parent must be committed")
            lower = ":".join([f"l/{self._link(parent)}", *self._lowers(parent)])
            (src / "lower").write_text(lower)
            m["parent"] = parent
        m.update(name=name, kind=Kind.COMMITTED.value, view=False)
        tmp_meta = src / ".meta.json.tmp"
        tmp_meta.write_text(json.dumps(m))
        shutil.rmtree(src / "work", ignore_errors=True)
        # Rename first: until the meta names `name`, nothing sees it as committed.
        try:
            os.rename(src, dst)
        except OSError as e:
            tmp_meta.unlink(missing_ok=True)
            raise Conflict(f"snapshot {name}: already exists") from e
        os.rename(dst / ".meta.json.tmp", dst / "meta.json")
        link = self._link(name)
        tmp_link = self.root / "l" / f".{link}.{secrets.token_hex(4)}"
        os.symlink(f"../{dst.name}/diff", tmp_link)
        os.rename(tmp_link, self.root / "l" / link)

    def remove(self, key: str) -> None:
        self._meta(key)
        for info in self.walk():
            if info.parent == key:
                raise Conflict(f"snapshot {key}: has children ({info.name})")
        d = self._dir(key)
        link = self._link(key)
        gone = self.root / f".del-{secrets.token_hex(8)}"
        os.rename(d, gone)
        try:
            os.unlink(self.root / "l" / link)
        except FileNotFoundError:
            pass
        shutil.rmtree(gone, ignore_errors=True)

    def recover(self) -> list[str]:
        """Delete leftovers of interrupted prepares/removes and dangling links."""
        removed = []
        for entry in os.scandir(self.root):
            if entry.name.startswith((".tmp-", ".del-")):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
            elif entry.name != "l" and entry.is_dir():
                d = Path(entry.path)
                if (d / ".meta.json.tmp").exists():
                    # commit was interrupted after the rename: finish it.
                    os.rename(d / ".meta.json.tmp", d / "meta.json")
        for entry in os.scandir(self.root / "l"):
            if not os.path.exists(entry.path):
                os.unlink(entry.path)
        return removed

"""Layer tars in and out: apply a layer safely, diff an upper dir back into one.

Applying (`apply_layer`): the stream may be gzip, zstd or plain (detected from
its magic bytes); its uncompressed sha256 is the layer's diff id and is
checked against the expected one when given. Whiteouts (`.wh.<name>` deletes
<name>; `.wh..wh..opq` makes a directory opaque) are written in the target's
format: overlay's (a 0/0 character device; `trusted.overlay.opaque=y`) or by
deleting in place (vfs). Owners, modes, mtimes, xattrs, hardlinks, symlinks,
device nodes and fifos are preserved.

Extraction is safe whatever order the entries come in: a name that is
absolute or has a `..` component is refused; a hardlink must name an earlier
entry inside the root; a relative symlink may not point outside the root (an
absolute one is kept: it means the container's root, as in Docker); an entry
is never written through a symlink (a directory replaced by a symlink midway
makes later entries below it fail). Any refusal raises InvalidArgument naming
the entry; the caller discards the snapshot, so nothing partial survives.

Out (`write_diff` / `changes`): walk an upper dir (overlay) or compare a copy
with its parent (vfs) and produce a layer tar with whiteouts in the tar form,
or the A/C/D list of `docker diff`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import BinaryIO

from berth.errors import InvalidArgument
from berth.storage.compression import READ_SIZE, decompressed
from berth.storage.snapshotter import ApplyTarget, WhiteoutFormat


class ChangeKind(IntEnum):
    """The Engine API's numbering for `GET /containers/{id}/changes`."""

    MODIFIED = 0
    ADDED = 1
    DELETED = 2

    @property
    def letter(self) -> str:
        return "CAD"[self.value]


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: ChangeKind

    def to_json(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": int(self.kind)}


@dataclass(frozen=True, slots=True)
class AppliedLayer:
    """The result of applying one layer: its diff id and unpacked size in bytes."""

    diff_id: str
    size: int
    compressed_digest: str | None = None


# -- applying ----------------------------------------------------------------

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


class _HashingReader:
    """Hashes everything read through it (the diff id is the uncompressed digest)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._h = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._h.update(data)
            self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(READ_SIZE):
            pass

    def digest(self) -> str:
        return "sha256:" + self._h.hexdigest()


def apply_layer(
    stream: BinaryIO,
    target: ApplyTarget,
    *,
    expected_diff_id: str | None = None,
    compression: str = "auto",
) -> AppliedLayer:
    """Apply one layer tar to `target.path`; raises InvalidArgument on anything unsafe.

    The caller applies into a fresh snapshot and removes it on error.
    """
    with decompressed(stream, compression) as raw:
        reader = _HashingReader(raw)
        applier = _Applier(target.path, target.whiteouts)
        try:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=READ_SIZE) as tf:  # type: ignore[call-overload]
                for member in tf:
                    applier.entry(tf, member)
        except tarfile.TarError as e:
            raise InvalidArgument(f"invalid layer tar: {e}") from e
        except EOFError as e:
            raise InvalidArgument(f"layer tar is truncated: {e}") from e
        reader.drain()
        applier.finish()
    diff_id = reader.digest()
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise InvalidArgument(
            f"layer digest mismatch: expected diff id {expected_diff_id}, got {diff_id}"
        )
    return AppliedLayer(diff_id=diff_id, size=applier.size)


def clean_name(name: str, what: str = "entry") -> tuple[str, ...]:
    """Split a tar name into components; refuse absolute names and `..`."""
    if name.startswith("/"):
        raise InvalidArgument(f"layer {what} {name!r}: absolute paths are not allowed")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise InvalidArgument(f"layer {what} {name!r}: '..' is not allowed")
    return parts


class _Applier:
    """Writes entries under `root`, never through a symlink, never outside."""

    def __init__(self, root: Path, whiteouts: WhiteoutFormat) -> None:
        self.root = str(root)
        self.whiteouts = whiteouts
        self.size = 0
        self._dirs_ok: set[tuple[str, ...]] = {()}
        self._written: set[tuple[str, ...]] = set()
        self._dir_times: list[tuple[str, float]] = []

    def _path(self, parts: tuple[str, ...]) -> str:
        return os.path.join(self.root, *parts) if parts else self.root

    def _ensure_parent(self, name: str, parts: tuple[str, ...]) -> str:
        """Make sure every parent component is a real directory inside root."""
        for i in range(1, len(parts)):
            prefix = parts[:i]
            if prefix in self._dirs_ok:
                continue
            path = self._path(prefix)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                self._dirs_ok.add(prefix)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(
                    f"layer entry {name!r}: refusing to write through symlink {'/'.join(prefix)!r}"
                )
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(
                    f"layer entry {name!r}: parent {'/'.join(prefix)!r} is not a directory"
                )
            self._dirs_ok.add(prefix)
        return self._path(parts)

    def _clear(self, parts: tuple[str, ...], path: str, keep_dir: bool) -> None:
        """Remove what is at `path` so a new entry can take its place."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            shutil.rmtree(path)
            self._dirs_ok = {d for d in self._dirs_ok if d[: len(parts)] != parts}
        else:
            os.unlink(path)
            self._dirs_ok.discard(parts)

    def entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        parts = clean_name(m.name)
        if not parts:
            return  # the root itself: its metadata belongs to the snapshot
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(m.name, parts)
            return
        path = self._ensure_parent(m.name, parts)
        if m.isdir():
            self._clear(parts, path, keep_dir=True)
            if not os.path.isdir(path) or os.path.islink(path):
                os.mkdir(path, 0o700)
            self._dirs_ok.add(parts)
        else:
            self._clear(parts, path, keep_dir=False)
            if m.isreg():
                self._file(tf, m, path)
            elif m.issym():
                self._symlink(m, parts, path)
            elif m.islnk():
                self._hardlink(m, path)
                self._written.add(parts)
                return  # a hard link shares the target's inode and metadata
            elif m.ischr() or m.isblk():
                kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            elif m.isfifo():
                os.mkfifo(path, 0o600)
            else:
                raise InvalidArgument(f"layer entry {m.name!r}: unsupported type {m.type!r}")
        self._written.add(parts)
        self._metadata(m, path)

    def _file(self, tf: tarfile.TarFile, m: tarfile.TarInfo, path: str) -> None:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            src = tf.extractfile(m)
            remaining = m.size
            if src is not None:
                while remaining > 0:
                    chunk = src.read(min(READ_SIZE, remaining))
                    if not chunk:
                        raise InvalidArgument(f"layer tar is truncated in {m.name!r}")
                    view = memoryview(chunk)
                    while view:
                        n = os.write(fd, view)
                        view = view[n:]
                    remaining -= len(chunk)
        finally:
            os.close(fd)
        self.size += m.size

    def _symlink(self, m: tarfile.TarInfo, parts: tuple[str, ...], path: str) -> None:
        target = m.linkname
        if not target:
            raise InvalidArgument(f"layer entry {m.name!r}: empty symlink target")
        if not target.startswith("/"):
            depth = len(parts) - 1
            for comp in target.split("/"):
                if comp == "..":
                    depth -= 1
                    if depth < 0:
                        raise InvalidArgument(
                            f"layer entry {m.name!r}: symlink to {target!r} leads outside the root"
                        )
                elif comp not in ("", "."):
                    depth += 1
        os.symlink(target, path)

    def _hardlink(self, m: tarfile.TarInfo, path: str) -> None:
        src_parts = clean_name(m.linkname, "hardlink target")
        if not src_parts:
            raise InvalidArgument(f"layer entry {m.name!r}: hard link to the root")
        src = self._ensure_parent_existing(m.name, src_parts)
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            raise InvalidArgument(
                f"layer entry {m.name!r}: hard link target {m.linkname!r} is not in the layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"layer entry {m.name!r}: hard link to a directory")
        os.link(src, path, follow_symlinks=False)

    def _ensure_parent_existing(self, name: str, parts: tuple[str, ...]) -> str:
        for i in range(1, len(parts)):
            prefix = parts[:i]
            if prefix in self._dirs_ok:
                continue
            try:
                st = os.lstat(self._path(prefix))
            except FileNotFoundError:
                raise InvalidArgument(
                    f"layer entry {name!r}: hard link target {'/'.join(parts)!r} is not in the layer"
                ) from None
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(
                    f"layer entry {name!r}: hard link target goes through {'/'.join(prefix)!r}"
                )
            self._dirs_ok.add(prefix)
        return self._path(parts)

    def _metadata(self, m: tarfile.TarInfo, path: str) -> None:
        try:
            os.lchown(path, m.uid, m.gid)
        except PermissionError:
            pass
        for key, value in m.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                attr = key[len("SCHILY.xattr.") :]
                if attr.startswith("trusted.overlay."):
                    continue  # the layer may not forge overlay's own markers
                raw = value.encode("utf-8", "surrogateescape")
                try:
                    os.setxattr(path, attr, raw, follow_symlinks=False)
                except OSError as e:
                    if e.errno not in (errno.ENOTSUP, errno.EPERM):
                        raise
        if not m.issym():
            os.chmod(path, m.mode & 0o7777)
        if m.isdir():
            self._dir_times.append((path, m.mtime))
        else:
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)

    def _whiteout(self, name: str, parts: tuple[str, ...]) -> None:
        base = parts[-1]
        parent = parts[:-1]
        if base == WHITEOUT_OPAQUE:
            dir_path = (
                self._ensure_parent(name, (*parent, "x"))[: -len("/x")] if parent else self.root
            )
            if parent:
                self._ensure_dir(name, parent)
            if self.whiteouts is WhiteoutFormat.OVERLAY:
                os.setxattr(dir_path, OVERLAY_OPAQUE_XATTR, b"y")
            else:
                for entry in os.listdir(dir_path):
                    child = (*parent, entry)
                    if child not in self._written:
                        self._clear(child, self._path(child), keep_dir=False)
            return
        victim = base[len(WHITEOUT_PREFIX) :]
        if not victim or victim in (".", ".."):
            raise InvalidArgument(f"layer entry {name!r}: invalid whiteout")
        vparts = (*parent, victim)
        path = self._ensure_parent(name, vparts)
        self._clear(vparts, path, keep_dir=False)
        if self.whiteouts is WhiteoutFormat.OVERLAY:
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def _ensure_dir(self, name: str, parts: tuple[str, ...]) -> None:
        path = self._ensure_parent(name, parts)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path, 0o755)
            self._dirs_ok.add(parts)
            return
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"layer entry {name!r}: {'/'.join(parts)!r} is not a directory")
        self._dirs_ok.add(parts)

    def finish(self) -> None:
        """Directory mtimes last (writing children changes them), deepest first."""
        for path, mtime in reversed(self._dir_times):
            os.utime(path, (mtime, mtime), follow_symlinks=False)

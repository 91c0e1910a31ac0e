"""COPY and ADD as layer tars, written without a container.

The builder decides *what* lands *where* (`Entry` plans); this module writes
the plan as an uncompressed layer tar in sorted order. Docker's rules that
shape the plan live in `plan_copy`:

- a directory source copies its *contents* into the destination;
- a file goes to `dest/<name>` when dest ends in `/` or is an existing
  directory, else to `dest` itself; several sources need a `/`-terminated dest;
- files keep their mode and mtime; owner is 0:0 unless `--chown`, mode is
  replaced by `--chmod`;
- missing parent directories are created 0755 (owned by the --chown user);
- ADD extracts local tar archives (plain, gzip, bzip2, xz) into the
  destination, keeping the archive's owners, and fetches URLs.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from berth.errors import InvalidArgument
from berth.tarextract import renamed


@dataclass(slots=True)
class Entry:
    """One path in the new layer (relative, no leading slash)."""

    path: str
    kind: str  # "file" | "dir" | "symlink" | "data" | "archive-member"
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = 0.0
    source: Path | None = None
    data: bytes = b""
    linkname: str = ""
    member: tarfile.TarInfo | None = None
    archive: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)


def write_layer(entries: list[Entry], out: BinaryIO) -> None:
    """The entries as a tar; parents before children, archives streamed member by member."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        seen: set[str] = set()
        for e in entries:
            if e.kind == "archive":
                assert e.archive is not None
                _extract_archive(tf, e, seen)
                continue
            if e.path in seen and e.kind == "dir":
                continue
            seen.add(e.path)
            info = tarfile.TarInfo(e.path)
            info.mode = e.mode & 0o7777
            info.uid, info.gid = e.uid, e.gid
            info.mtime = e.mtime
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif e.kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = e.linkname
                tf.addfile(info)
            elif e.kind == "data":
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))
            else:
                assert e.source is not None
                with open(e.source, "rb") as f:
                    info.size = os.fstat(f.fileno()).st_size
                    tf.addfile(info, f)


def archive_kind(path: Path) -> str:
    """ "tar", "gzip", "bzip2", "xz" when ADD should extract the file, else ""."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x1f\x8b"):
        kind = "gzip"
    elif head.startswith(b"BZh"):
        kind = "bzip2"
    elif head.startswith(b"\xfd7zXZ\x00"):
        kind = "xz"
    elif len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    else:
        return ""
    try:
        with _open_decompressed(path, kind) as f:
            inner = f.read(512)
    except (OSError, EOFError, lzma.LZMAError):
        return ""
    return kind if len(inner) >= 262 and inner[257:262] == b"ustar" else ""


def _open_decompressed(path: Path, kind: str) -> BinaryIO:
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _extract_archive(tf: tarfile.TarFile, e: Entry, seen: set[str]) -> None:
    assert e.archive is not None
    kind = archive_kind(e.archive)
    with _open_decompressed(e.archive, kind) as raw, tarfile.open(fileobj=raw, mode="r|") as src:
        for member in src:
            name = posixpath.normpath(member.name.lstrip("/"))
            if name in (".", "") or name.startswith("../") or name == "..":
                continue
            out = posixpath.join(e.path, name) if e.path else name
            info = renamed(member, out)
            if member.islnk():
                target = posixpath.normpath(member.linkname.lstrip("/"))
                info.linkname = posixpath.join(e.path, target) if e.path else target
            seen.add(out)
            if member.isreg():
                tf.addfile(info, src.extractfile(member))
            else:
                tf.addfile(info)


def parents(path: str) -> Iterator[str]:
    """`a`, `a/b` for `a/b/c` (outermost first)."""
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def parse_chmod(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"invalid chmod parameter {text!r}: must be octal") from None
    if mode > 0o7777:
        raise InvalidArgument(f"invalid chmod parameter {text!r}")
    return mode


def entry_for(path: Path, dest: str, uid: int, gid: int, chmod: int | None) -> Entry:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return Entry(dest, "symlink", 0o777, uid, gid, st.st_mtime, linkname=os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        mode = chmod if chmod is not None else stat.S_IMODE(st.st_mode)
        return Entry(dest, "dir", mode, uid, gid, st.st_mtime)
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgument(f"cannot copy {path.name}: not a regular file, directory or symlink")
    mode = chmod if chmod is not None else stat.S_IMODE(st.st_mode)
    return Entry(dest, "file", mode, uid, gid, st.st_mtime, source=path)


def parent_entries(
    root: Path, path: str, uid: int = 0, gid: int = 0, made: set[str] | None = None
) -> list[Entry]:
    """Directory entries for every parent of `path` (relative to the image root).

    A parent the image already has is repeated with its own mode, owner and
    mtime: a layer that lacked it would get a fresh 0755 directory from the
    layer applier, which in an overlay hides the lower one's metadata (/tmp
    would lose its 1777). A missing parent is created 0755, owned uid:gid.
    """
    out = []
    seen = made if made is not None else set()
    for p in parents(path):
        if p in seen:
            continue
        seen.add(p)
        try:
            st = os.lstat(root / p)
        except FileNotFoundError:
            out.append(Entry(p, "dir", 0o755, uid, gid))
            continue
        if stat.S_ISDIR(st.st_mode):
            out.append(Entry(p, "dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime))
    return out


def archive_names(path: Path) -> list[str]:
    """The member paths of a (compressed) tar archive, normalised and relative."""
    names = []
    with (
        _open_decompressed(path, archive_kind(path)) as raw,
        tarfile.open(fileobj=raw, mode="r|") as tf,
    ):
        for member in tf:
            name = posixpath.normpath(member.name.lstrip("/"))
            if name not in (".", "") and not name.startswith(".."):
                names.append(name)
    return names

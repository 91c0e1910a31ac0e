"""From a changed tree back to a layer: `docker diff`'s list and the layer tar.

Overlay: the upper dir *is* the diff; a 0/0 character device is a deletion
and `trusted.overlay.opaque=y` an opaque directory; whether an entry is added
or changed depends on whether a lower dir has the path. Vfs: the snapshot is
a full copy, so it is compared with its parent's tree. Both produce the same
`Change` list and the same tar form (`.wh.<name>`, `.wh..wh..opq`), written
in sorted order so the same tree always gives the same diff id.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from berth.storage.layers import (
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    Change,
    ChangeKind,
)
from berth.storage.snapshotter import WhiteoutFormat

# (relative path, kind, what to write: "entry" | "whiteout" | "opaque")
_Item = tuple[str, ChangeKind, str]


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _overlay_items(upper: Path, lowers: Sequence[Path]) -> Iterator[_Item]:
    def walk(rel: str) -> Iterator[_Item]:
        base = os.path.join(upper, rel) if rel else str(upper)
        for name in sorted(os.listdir(base)):
            child = f"{rel}/{name}" if rel else name
            path = os.path.join(base, name)
            st = os.lstat(path)
            if _is_whiteout(st):
                yield (child, ChangeKind.DELETED, "whiteout")
                continue
            in_lower = any(os.path.lexists(os.path.join(lo, child)) for lo in lowers)
            yield (child, ChangeKind.MODIFIED if in_lower else ChangeKind.ADDED, "entry")
            if stat.S_ISDIR(st.st_mode):
                if _is_opaque(path):
                    yield (child, ChangeKind.MODIFIED, "opaque")
                yield from walk(child)

    yield from walk("")


def _differs(a: os.stat_result, b: os.stat_result, pa: str, pb: str) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return True
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return True
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) != os.readlink(pb)
    if stat.S_ISDIR(a.st_mode):
        return a.st_mtime_ns != b.st_mtime_ns
    if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        return a.st_rdev != b.st_rdev
    return a.st_size != b.st_size or a.st_mtime_ns != b.st_mtime_ns


def _compare_items(upper: Path, lower: Path | None) -> Iterator[_Item]:
    def walk(rel: str) -> Iterator[_Item]:
        ubase = os.path.join(upper, rel) if rel else str(upper)
        lbase = (os.path.join(lower, rel) if rel else str(lower)) if lower else None
        unames = set(os.listdir(ubase))
        lnames = set(os.listdir(lbase)) if lbase and os.path.isdir(lbase) else set()
        for name in sorted(unames | lnames):
            child = f"{rel}/{name}" if rel else name
            if name not in unames:
                yield (child, ChangeKind.DELETED, "whiteout")
                continue
            upath = os.path.join(ubase, name)
            ust = os.lstat(upath)
            if name not in lnames:
                yield (child, ChangeKind.ADDED, "entry")
                if stat.S_ISDIR(ust.st_mode):
                    yield from _all_added(upper, child)
                continue
            lpath = os.path.join(lbase, name)  # type: ignore[arg-type]
            lst = os.lstat(lpath)
            if _differs(ust, lst, upath, lpath):
                yield (child, ChangeKind.MODIFIED, "entry")
            if stat.S_ISDIR(ust.st_mode):
                if not stat.S_ISDIR(lst.st_mode):
                    yield from _all_added(upper, child)
                else:
                    yield from walk(child)

    yield from walk("")


def _all_added(root: Path, rel: str) -> Iterator[_Item]:
    base = os.path.join(root, rel)
    for name in sorted(os.listdir(base)):
        child = f"{rel}/{name}"
        yield (child, ChangeKind.ADDED, "entry")
        if os.path.isdir(os.path.join(base, name)) and not os.path.islink(os.path.join(base, name)):
            yield from _all_added(root, child)


def _items(upper: Path, lowers: Sequence[Path], whiteouts: WhiteoutFormat) -> Iterator[_Item]:
    if whiteouts is WhiteoutFormat.OVERLAY:
        return _overlay_items(upper, lowers)
    return _compare_items(upper, lowers[0] if lowers else None)


def changes(upper: Path, lowers: Sequence[Path], whiteouts: WhiteoutFormat) -> list[Change]:
    """`docker diff`: every added (A), changed (C) and deleted (D) path, sorted."""
    out = [
        Change("/" + rel, kind)
        for rel, kind, what in _items(upper, lowers, whiteouts)
        if what != "opaque"
    ]
    out.sort(key=lambda c: c.path)
    return out


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._h.update(data)
        self.size += len(data)
        self._out.write(data)
        return len(data)

    def digest(self) -> str:
        return "sha256:" + self._h.hexdigest()


def write_diff(
    upper: Path, lowers: Sequence[Path], whiteouts: WhiteoutFormat, out: BinaryIO
) -> str:
    """Write the changes as an uncompressed layer tar to `out`; returns its diff id."""
    w = _HashingWriter(out)
    with tarfile.open(fileobj=w, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        links: dict[tuple[int, int], str] = {}
        for rel, _kind, what in _items(upper, lowers, whiteouts):
            parent, _, name = rel.rpartition("/")
            prefix = f"{parent}/" if parent else ""
            if what == "whiteout":
                info = tarfile.TarInfo(f"{prefix}{WHITEOUT_PREFIX}{name}")
                info.mode = 0o644
                tf.addfile(info)
            elif what == "opaque":
                info = tarfile.TarInfo(f"{rel}/{WHITEOUT_OPAQUE}")
                info.mode = 0o644
                tf.addfile(info)
            else:
                _add_path(tf, os.path.join(upper, rel), rel, links)
    return w.digest()


def write_tree(root: Path, out: BinaryIO) -> None:
    """A tar of a whole tree (`docker export` of a mounted container rootfs)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        links: dict[tuple[int, int], str] = {}
        for rel in _tree(root, ""):
            _add_path(tf, os.path.join(root, rel), rel, links)


def _tree(root: Path, rel: str) -> Iterator[str]:
    base = os.path.join(root, rel) if rel else str(root)
    for name in sorted(os.listdir(base)):
        child = f"{rel}/{name}" if rel else name
        yield child
        path = os.path.join(base, name)
        if os.path.isdir(path) and not os.path.islink(path):
            yield from _tree(root, child)


def _add_path(
    tf: tarfile.TarFile, path: str, arcname: str, links: dict[tuple[int, int], str]
) -> None:
    st = os.lstat(path)
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = st.st_mtime
    mode = st.st_mode
    fileobj = None
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            info.type = tarfile.LNKTYPE
            info.linkname = links[key]
        else:
            if st.st_nlink > 1:
                links[key] = arcname
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            fileobj = open(path, "rb")  # noqa: SIM115 (closed below)
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return  # sockets are not part of a layer
    try:
        for attr in os.listxattr(path, follow_symlinks=False):
            if attr.startswith("trusted.overlay."):
                continue
            value = os.getxattr(path, attr, follow_symlinks=False)
            info.pax_headers[f"SCHILY.xattr.{attr}"] = value.decode("utf-8", "surrogateescape")
    except OSError:
        pass
    try:
        tf.addfile(info, fileobj)
    finally:
        if fileobj is not None:
            fileobj.close()

"""Building layer tars for tests, entry by entry (including hostile ones)."""

from __future__ import annotations

import gzip
import io
import tarfile

Entry = tuple[tarfile.TarInfo, bytes]


def entry(
    name: str,
    kind: str = "file",
    data: bytes = b"",
    link: str = "",
    mode: int | None = None,
    **extra,
) -> Entry:
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    if kind == "file":
        info.type, info.size, info.mode = tarfile.REGTYPE, len(data), 0o644
    elif kind == "dir":
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif kind == "symlink":
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
    elif kind == "hardlink":
        info.type, info.linkname, info.mode = tarfile.LNKTYPE, link, 0o644
    elif kind == "fifo":
        info.type, info.mode = tarfile.FIFOTYPE, 0o644
    if mode is not None:
        info.mode = mode
    for k, v in extra.items():
        setattr(info, k, v)
    return info, data


def build(*entries: Entry, compress: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buf.getvalue()
    if compress == "gzip":
        return gzip.compress(raw)
    if compress == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(raw)
    return raw

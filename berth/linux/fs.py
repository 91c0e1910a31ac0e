"""Replacing a file whole, so that a reader (or a crash) sees the old or the new
content and never a part: write a temporary file beside it, then rename.

`durable=True` adds the fsyncs (the file, then its directory) that make the new
content survive a power loss, for stores whose records are not rebuilt from
elsewhere; files that are regenerated at every start skip them.
"""

from __future__ import annotations

import os
import secrets


def replace_file(
    path: str | os.PathLike[str], data: bytes, *, durable: bool, mode: int = 0o644
) -> None:
    path = os.fspath(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    if durable:
        sync_dir(directory or ".")


def sync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a directory, so that names created or renamed in it are on disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

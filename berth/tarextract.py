"""tarfile extraction with a filter on every Python 3.11.

Extraction filters (PEP 706: `extractall(filter=...)`, `TarInfo.replace`) came
in 3.11.4; Debian 12's python3.11 is 3.11.2. Where the interpreter has them
they are used as they are; otherwise the same filter is applied here member by
member, with directories made writable until the end, as extractall does.
"""

from __future__ import annotations

import copy
import os
import tarfile
from collections.abc import Callable, Iterable

Filter = Callable[[tarfile.TarInfo, str], "tarfile.TarInfo | None"]
HAS_FILTERS = hasattr(tarfile, "data_filter")


def renamed(member: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    """`member.replace(name=name, deep=False)` where TarInfo has no replace."""
    if HAS_FILTERS:
        return member.replace(name=name, deep=False)
    out = copy.copy(member)
    out.name = name
    return out


def tar_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """PEP 706's "tar" filter: no leading slash, nothing outside `dest`, no
    setuid/setgid/sticky bits and no group/other write."""
    name = member.name.lstrip("/" + os.sep)
    real_dest = os.path.realpath(dest)
    target = os.path.realpath(os.path.join(real_dest, name))
    if target != real_dest and not target.startswith(real_dest + os.sep):
        raise tarfile.ExtractError(f"{member.name!r} would be extracted outside {dest}")
    out = renamed(member, name)
    if out.mode is not None:
        out.mode &= 0o755 if out.isreg() or out.isdir() else 0o777
    return out


def extract_all(
    tar: tarfile.TarFile,
    dest: str | os.PathLike[str],
    *,
    members: Iterable[tarfile.TarInfo] | None = None,
    filter: str | Filter,
) -> None:
    dest = os.fspath(dest)
    if HAS_FILTERS:
        tar.extractall(dest, members=members, filter=filter)
        return
    check: Filter = tar_filter if filter == "tar" else filter  # type: ignore[assignment]
    if not callable(check):
        raise ValueError(f"unsupported tar filter {filter!r}")
    directories: list[tarfile.TarInfo] = []
    for member in tar if members is None else members:
        kept = check(member, dest)
        if kept is None:
            continue
        if kept.isdir():
            directories.append(kept)
            kept = copy.copy(kept)
            kept.mode = 0o700
        tar.extract(kept, dest, set_attrs=not kept.isdir())
    for d in sorted(directories, key=lambda m: m.name, reverse=True):
        path = os.path.join(dest, d.name)
        tar.chown(d, path, False)
        tar.utime(d, path)
        tar.chmod(d, path)

"""Paths inside a container's root that cannot lead out of it (CVE-2018-15664 class).

`docker cp` used to resolve a path in the container with the host's view of
symlinks, so a container could point a symlink at / and have the daemon read
or write host files. Here every lookup walks the path one component at a time
with file descriptors: each step is opened with O_NOFOLLOW relative to the
previous directory's fd, a symlink met on the way is read and resolved *as if
the container's root were /* ("/" and ".." never climb above the root), and
the final object is returned as an fd, so nothing can be swapped between the
check and the use. `stat_in_root` answers HEAD /containers/{id}/archive; the
tar helpers for GET and PUT are in berth.volumes.archive (re-exported here).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from berth.errors import InvalidArgument, NotFound

MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _components(path: str) -> list[str]:
    return [p for p in PurePosixPath("/" + path).parts[1:] if p not in ("", ".")]


@dataclass(slots=True)
class Resolved:
    """An open fd on the parent directory, the final name in it, and the in-root path."""

    parent_fd: int
    name: str  # "" when the path is the root itself
    path: str  # canonical path inside the root, e.g. "/etc/passwd"

    def close(self) -> None:
        os.close(self.parent_fd)


def resolve(root: str | Path, path: str, *, follow_last: bool = True) -> Resolved:
    """Walk `path` inside `root`; symlinks are followed only within `root`.

    A missing intermediate component raises NotFound; a missing last component
    is fine (the caller may create it). The caller closes the result.
    """
    root_fd = os.open(str(root), _DIR_FLAGS)
    stack: list[int] = [root_fd]  # fds of directories from the root down
    names: list[str] = []
    todo = _components(path)
    links = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                    names.pop()
                continue
            last = not todo
            try:
                st = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return Resolved(os.dup(stack[-1]), part, "/" + "/".join([*names, part]))
                raise NotFound(f"Could not find the file {path} in container") from None
            if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                links += 1
                if links > MAX_SYMLINKS:
                    raise InvalidArgument(f"too many levels of symbolic links in {path}")
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                    names.clear()
                todo = _components(target) + todo
                continue
            if last:
                return Resolved(os.dup(stack[-1]), part, "/" + "/".join([*names, part]))
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"{'/'.join([*names, part])} is not a directory (in {path})")
            stack.append(os.open(part, _DIR_FLAGS, dir_fd=stack[-1]))
            names.append(part)
        # the path is a directory reached exactly (or the root): parent is the dir itself
        return Resolved(os.dup(stack[-1]), "", "/" + "/".join(names))
    finally:
        for fd in stack:
            os.close(fd)


@contextlib.contextmanager
def open_in_root(
    root: str | Path, path: str, flags: int = os.O_RDONLY, mode: int = 0o644
) -> Iterator[int]:
    """An fd on `path` inside `root`; the last component is opened with O_NOFOLLOW."""
    r = resolve(root, path)
    try:
        if r.name == "":
            fd = os.open(".", flags | os.O_CLOEXEC, dir_fd=r.parent_fd)
        else:
            fd = os.open(r.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=r.parent_fd)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container") from None
    finally:
        r.close()
    try:
        yield fd
    finally:
        os.close(fd)


def host_path(root: str | Path, path: str) -> Path:
    """The host path of `path` inside `root`, symlinks resolved within the root.

    For callers that must hand a path to another program (a bind mount target):
    the answer is only as good as the moment it was computed; prefer the fd
    helpers when the container may be running.
    """
    r = resolve(root, path)
    r.close()
    return Path(root) / r.path.lstrip("/")


def stat_in_root(root: str | Path, path: str) -> dict:
    """Docker's X-Docker-Container-Path-Stat object for HEAD /archive."""
    r = resolve(root, path, follow_last=False)
    try:
        if r.name == "":
            st = os.stat(r.parent_fd)
            link = ""
        else:
            try:
                st = os.stat(r.name, dir_fd=r.parent_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {path} in container") from None
            link = os.readlink(r.name, dir_fd=r.parent_fd) if stat.S_ISLNK(st.st_mode) else ""
    finally:
        r.close()
    return {
        "name": PurePosixPath(r.path).name or "/",
        "size": st.st_size,
        "mode": _go_mode(st.st_mode),
        "mtime": _rfc3339(st.st_mtime),
        "linkTarget": link,
    }


def _go_mode(m: int) -> int:
    """Go's os.FileMode bits, which is what the docker CLI decodes."""
    out = stat.S_IMODE(m) & 0o777
    if stat.S_ISDIR(m):
        out |= 1 << 31
    elif stat.S_ISLNK(m):
        out |= 1 << 27
    elif stat.S_ISFIFO(m):
        out |= 1 << 25
    elif stat.S_ISSOCK(m):
        out |= 1 << 24
    elif stat.S_ISCHR(m):
        out |= (1 << 26) | (1 << 21)
    elif stat.S_ISBLK(m):
        out |= 1 << 26
    if m & stat.S_ISUID:
        out |= 1 << 23
    if m & stat.S_ISGID:
        out |= 1 << 22
    if m & stat.S_ISVTX:
        out |= 1 << 20
    return out


def _rfc3339(t: float) -> str:
    from berth.timestamps import format_seconds

    return format_seconds(t)


# The archive helpers (tar out of and into a container's root, built on the
# walk above) live in berth.volumes.archive; re-exported here for callers of
# this module's original interface.
from berth.volumes.archive import archive, archive_stream, extract  # noqa: E402, F401

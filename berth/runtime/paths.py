"""Container ids and paths inside a container's root, resolved without escaping it."""

from __future__ import annotations

import os

from berth.errors import InvalidArgument

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
_MAX_LINKS = 255


def check_id(container_id: str) -> str:
    """Refuse ids that could name a path outside the state root (runc's rules)."""
    if (
        not container_id
        or container_id in (".", "..")
        or not set(container_id) <= _ID_CHARS
        or len(container_id) > 1024
    ):
        raise InvalidArgument(f"invalid container id format: {container_id!r}")
    return container_id


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved under `root` as if `root` were "/": symlinks and ".." stay inside.

    Components that do not exist yet are kept as they are, so the result can be a
    path to create. (A concurrent writer in the rootfs could still race us; the
    mounts are made by the container's own init before any container code runs.)
    """
    resolved: list[str] = []
    pending = _parts(unsafe)
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a symlink, or not there yet
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise InvalidArgument(f"too many symlinks resolving {unsafe} in {root}")
        if target.startswith("/"):
            resolved = []
        pending = _parts(target) + pending
    return os.path.join(root, *resolved)

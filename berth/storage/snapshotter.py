"""The snapshotter: how layers become directories and containers get a rootfs.

Vocabulary (containerd's): a snapshot is either *active* (writable, named by
a `key`) or *committed* (read-only, named by a `name`). Every snapshot has an
optional `parent`, which must be committed. The life of an image layer:

    mounts = prepare("extract-<random>", parent=<chain id of layer n-1>)
    apply the layer tar into apply_dir("extract-<random>")  # see layers.py
    commit("<chain id of layer n>", "extract-<random>")    # now read-only, shared

and of a container:

    mounts = prepare("container-<id>", parent=<chain id of the top layer>)
    mount(mounts, target)  ...  unmount(target); remove("container-<id>")

`prepare` *returns* the mounts to make (as data) instead of mounting, so that
callers decide where and when and tests can read the plan. Committed
snapshots are named by the layer chain id, so every image whose layers have
the same chain shares one directory; `remove` refuses a snapshot that still
has children. A committed name that already exists makes `commit` raise
Conflict, and the caller (who raced another import of the same layer) drops
its own copy.

Implementations: `overlay` (kernel overlayfs, one directory per layer) and
`vfs` (each snapshot a full copy of its parent: slow, works everywhere).
`get_snapshotter(name, root)` picks one by the `--storage-driver` name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Kind(enum.Enum):
    ACTIVE = "active"
    COMMITTED = "committed"


class WhiteoutFormat(enum.Enum):
    """How a deletion in a layer tar is written into an apply_dir."""

    OVERLAY = "overlay"  # char device 0/0, opaque dirs by trusted.overlay.opaque=y
    DELETE = "delete"  # remove the path in place (vfs: the dir is a full copy)


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount(2) to make: `mount -t type -o options source target`."""

    type: str
    source: str
    options: tuple[str, ...] = ()
    cwd: str | None = None  # relative lowerdirs (overlay with 100+ layers) resolve here

    def data(self) -> str:
        """Options a filesystem gets as its data string (bind/ro handled as flags)."""
        return ",".join(o for o in self.options if o not in _FLAG_OPTIONS)


_FLAG_OPTIONS = frozenset({"bind", "rbind", "ro", "rw"})


@dataclass(frozen=True, slots=True)
class Info:
    name: str
    kind: Kind
    parent: str | None
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class Usage:
    """Bytes and inodes a snapshot uses *itself* (not counting its parents)."""

    size: int
    inodes: int


@dataclass(frozen=True, slots=True)
class ApplyTarget:
    """Where a layer tar is applied for an active snapshot, and how deletions look."""

    path: Path
    whiteouts: WhiteoutFormat
    lowers: tuple[Path, ...] = field(default=())


class Snapshotter(Protocol):
    """Prepare, commit, remove snapshots; return mounts as data."""

    name: str
    root: Path

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]: ...

    def view(self, key: str, parent: str | None) -> list[Mount]: ...

    def mounts(self, key: str) -> list[Mount]: ...

    independent_layers: bool
    """True when a layer can be applied without its parent's files (overlay): the
    service then unpacks all layers of an image at once and gives each its parent
    at commit time (`commit(name, key, parent=...)`)."""

    def commit(self, name: str, key: str, parent: str | None = None) -> None: ...

    def remove(self, key: str) -> None: ...

    def stat(self, key: str) -> Info: ...

    def exists(self, key: str) -> bool: ...

    def usage(self, key: str) -> Usage: ...

    def walk(self) -> Iterator[Info]: ...

    def apply_target(self, key: str) -> ApplyTarget: ...

    def upper_dir(self, key: str) -> Path: ...

    def recover(self) -> list[str]: ...


DRIVERS = {"overlay2": "overlay", "overlay": "overlay", "vfs": "vfs"}


def get_snapshotter(name: str, root: Path) -> Snapshotter:
    """The snapshotter for a `--storage-driver` name, rooted at <data-root>/storage/<kind>."""
    from berth.errors import InvalidArgument

    kind = DRIVERS.get(name)
    if kind is None:
        raise InvalidArgument(f"unknown storage driver: {name} (known: overlay2, vfs)")
    if kind == "overlay":
        from berth.storage.overlay import OverlaySnapshotter

        return OverlaySnapshotter(Path(root) / "overlay")
    from berth.storage.vfs import VfsSnapshotter

    return VfsSnapshotter(Path(root) / "vfs")

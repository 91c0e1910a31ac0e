"""Container root filesystems: a writable snapshot on an image's top layer.

`prepare` creates the snapshot `container-<id>` on the image's top layer and
mounts it where the daemon asks; `remove` unmounts and deletes it (then
collects layers a force-removed image left to this container). `changes`,
`size`, `export` and `commit` read the snapshot's upper dir (overlay) or
compare its full copy with the parent (vfs).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import InvalidArgument
from berth.image.store import ImageRecord
from berth.storage import mounting
from berth.storage.diff import changes as tree_changes
from berth.storage.diff import write_diff, write_tree
from berth.storage.layers import Change
from berth.storage.snapshotter import Mount

if TYPE_CHECKING:
    from berth.image.service_impl import ServiceCore

CONTAINER_PREFIX = "container-"


class ContainerFilesystems:
    def __init__(self, core: ServiceCore) -> None:
        self.core = core

    @staticmethod
    def _key(container_id: str) -> str:
        if not container_id or "/" in container_id:
            raise InvalidArgument(f"invalid container id: {container_id!r}")
        return CONTAINER_PREFIX + container_id

    def prepare(self, container_id: str, image_id: str, target: Path | None) -> list[Mount]:
        image = self.core.images.resolve(image_id)
        parent = image.chain_ids[-1] if image.chain_ids else None
        key = self._key(container_id)
        mounts = self.core.snapshotter.prepare(key, parent)
        if target is not None:
            try:
                target.mkdir(parents=True, exist_ok=True)
                mounting.mount_all(mounts, target)
            except BaseException:
                self.core._remove_snapshot_tree(key)
                raise
        return mounts

    def mount(self, container_id: str, target: Path) -> None:
        mounts = self.core.snapshotter.mounts(self._key(container_id))
        target.mkdir(parents=True, exist_ok=True)
        if not mounting.is_mounted(target):
            mounting.mount_all(mounts, target)

    def unmount(self, target: Path) -> None:
        mounting.unmount(target)

    def remove(self, container_id: str, target: Path | None) -> None:
        if target is not None:
            mounting.unmount(target)
        key = self._key(container_id)
        if self.core.snapshotter.exists(key):
            self.core.snapshotter.remove(key)
            self.core.gc()  # layers of a force-removed image may be free now

    def changes(self, container_id: str) -> list[Change]:
        target = self.core.snapshotter.apply_target(self._key(container_id))
        return tree_changes(target.path, target.lowers, target.whiteouts)

    def size(self, container_id: str) -> int:
        key = self._key(container_id)
        if self.core.snapshotter.independent_layers:
            return self.core.snapshotter.usage(key).size  # the upper dir holds only the changes
        # A full copy: count the files the container added or changed.
        root = self.core.snapshotter.apply_target(key).path
        total = 0
        for change in self.changes(container_id):
            if change.kind.letter != "D":
                st = os.lstat(root / change.path.lstrip("/"))
                if stat.S_ISREG(st.st_mode):
                    total += st.st_size
        return total

    def export(self, container_id: str, out: BinaryIO, source: Path | None = None) -> None:
        """Tar the merged view: from `source` when the caller has it mounted, else
        from a private read of the snapshot's mounts (overlay allows the second
        mount of a running container's upper dir because berth mounts with index=off)."""
        if source is not None and mounting.is_mounted(source):
            write_tree(source, out)
            return
        mounts = self.core.snapshotter.mounts(self._key(container_id))
        point = Path(tempfile.mkdtemp(dir=self.core.tmp, prefix="export-"))
        try:
            mounting.mount_all(mounts, point)
            try:
                write_tree(point, out)
            finally:
                mounting.unmount(point)
        finally:
            with contextlib.suppress(OSError):
                point.rmdir()

    def commit(
        self,
        container_id: str,
        image_id: str,
        *,
        config: dict,
        created_by: str,
        comment: str,
        author: str,
        tags: Sequence[str],
    ) -> ImageRecord:
        target = self.core.snapshotter.apply_target(self._key(container_id))
        with tempfile.TemporaryFile(dir=self.core.tmp) as f:
            write_diff(target.path, target.lowers, target.whiteouts, f)
            f.seek(0)
            return self.core.creator.create_image(
                config=config,
                parent=image_id,
                layer=f,
                created_by=created_by,
                comment=comment,
                author=author,
                tags=tags,
            )

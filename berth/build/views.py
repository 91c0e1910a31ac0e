"""Read access to an image's filesystem during a build.

COPY needs to know whether its destination is an existing directory, which
parents exist, and who `--chown=name` is; `COPY --from` reads files out of
another stage or image. A view is the image mounted (through the images
service, as a throwaway container snapshot) once per build and image, and
undone by `close`, which the builder calls in every case.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any


class ImageViews:
    def __init__(self, images: Any, state_dir: Path) -> None:
        self.images = images  # berth.image.service.ImageService
        self.dir = Path(state_dir) / "views"
        self._mounted: dict[str, tuple[str, Path]] = {}
        self._lock = threading.Lock()

    def root(self, image_id: str) -> Path:
        """The image's merged tree (an empty directory for `scratch`, i.e. "")."""
        with self._lock:
            if image_id in self._mounted:
                return self._mounted[image_id][1]
            cid = "bview-" + secrets.token_hex(16)
            target = self.dir / cid
            target.mkdir(parents=True, exist_ok=True)
            if image_id:
                self.images.prepare_container_rootfs(cid, image_id, target)
            self._mounted[image_id] = (cid, target)
            return target

    def close(self, pool: Executor | None = None) -> None:
        """Unmount and delete every view (on `pool`'s threads when given)."""
        with self._lock:
            mounted, self._mounted = self._mounted, {}
        futures = []
        for image_id, (cid, target) in mounted.items():
            if pool is None:
                self._remove(image_id, cid, target)
            else:
                futures.append(pool.submit(self._remove, image_id, cid, target))
        for f in futures:
            f.result()

    def _remove(self, image_id: str, cid: str, target: Path) -> None:
        if image_id:
            self.images.remove_container_rootfs(cid, target)
        shutil.rmtree(target, ignore_errors=True)

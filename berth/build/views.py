"""Read access to an image's filesystem during a build.

COPY needs to know whether its destination is an existing directory, which
parents exist, and who `--chown=name` is; `COPY --from` reads files out of
another stage or image. A view is the image mounted (through the images
service, as a throwaway container snapshot), shared by every step that needs
the same image. `acquire`/`release` bracket one step's use, and the view is
unmounted in the background once no step holds it; `root` pins a view until
`close`, which the builder calls in every case and which waits for every
unmount.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.build.runner import VIEW_PREFIX


@dataclass(slots=True)
class _View:
    cid: str
    path: Path
    refs: int = 0
    pinned: bool = False


class ImageViews:
    def __init__(self, images: Any, state_dir: Path) -> None:
        self.images = images  # berth.image.service.ImageService
        self.dir = Path(state_dir) / "views"
        self._views: dict[str, _View] = {}
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def _get(self, image_id: str) -> _View:
        view = self._views.get(image_id)
        if view is None:
            cid = VIEW_PREFIX + secrets.token_hex(16)
            view = _View(cid, self.dir / cid)
            view.path.mkdir(parents=True, exist_ok=True)
            if image_id:
                self.images.prepare_container_rootfs(cid, image_id, view.path)
            self._views[image_id] = view
        return view

    def root(self, image_id: str) -> Path:
        """The image's merged tree (empty for `scratch`, i.e. ""), kept until `close`."""
        with self._lock:
            view = self._get(image_id)
            view.pinned = True
            return view.path

    def acquire(self, image_id: str) -> Path:
        """The image's tree for one step; pair with `release`."""
        with self._lock:
            view = self._get(image_id)
            view.refs += 1
            return view.path

    def release(self, image_id: str, pool: Executor) -> None:
        """One step is done with the view; unmount it in the background if unused."""
        with self._lock:
            view = self._views.get(image_id)
            if view is None:
                return
            view.refs -= 1
            if view.refs > 0 or view.pinned:
                return
            del self._views[image_id]
            self._pending.append(pool.submit(self._remove, image_id, view))

    def close(self, pool: Executor | None = None) -> None:
        """Unmount and delete every view (on `pool`'s threads when given) and wait."""
        with self._lock:
            views, self._views = self._views, {}
            futures, self._pending = self._pending, []
        for image_id, view in views.items():
            if pool is None:
                self._remove(image_id, view)
            else:
                futures.append(pool.submit(self._remove, image_id, view))
        for f in futures:
            f.result()

    def _remove(self, image_id: str, view: _View) -> None:
        if image_id:
            self.images.remove_container_rootfs(view.cid, view.path)
        shutil.rmtree(view.path, ignore_errors=True)

"""The daemon's images service: berth.image's facade plus what only the daemon
knows (which containers use which image, events, container rootfs paths).
"""

from __future__ import annotations

import io
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from berth.daemon.events import EventBus
from berth.errors import InvalidArgument, NotFound
from berth.image.filters import unix_time
from berth.linux.mountinfo import is_mounted

_DRIVERS = {"overlay": "overlay2", "overlay2": "overlay2", "vfs": "vfs"}


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    id: str
    config: dict[str, Any]  # Docker's container defaults (Cmd, Env, ...)


class DaemonImages:
    def __init__(
        self, *, data_root: Path, db: sqlite3.Connection, events: EventBus, storage_driver: str
    ) -> None:
        from berth.image.service import ImageService

        driver = _DRIVERS.get(storage_driver)
        if driver is None:
            raise InvalidArgument(f"unknown storage driver {storage_driver!r} (overlay or vfs)")
        self.data_root = data_root
        self.driver = driver
        self.svc = ImageService(data_root, db, driver=driver)
        self.events = events
        self.containers_dir = data_root / "containers"
        self.in_use: Callable[[], Mapping[str, Sequence[Any]]] = lambda: {}

    def recover(self) -> None:
        self.svc.recover()

    # ---- for containers ----------------------------------------------------------------

    def resolve(self, ref: str) -> ResolvedImage:
        rec = self.svc.resolve(ref)
        return ResolvedImage(rec.id, dict(rec.config.config or {}))

    def rootfs_path(self, cid: str) -> Path:
        return self.containers_dir / cid / "rootfs"

    def prepare_rootfs(self, cid: str, image_id: str) -> None:
        self.rootfs_path(cid).mkdir(parents=True, exist_ok=True)
        self.svc.prepare_container_rootfs(cid, image_id)

    def mount_rootfs(self, cid: str) -> Path:
        target = self.rootfs_path(cid)
        target.mkdir(parents=True, exist_ok=True)
        if not is_mounted(target):
            self.svc.mount_container_rootfs(cid, target)
        return target

    def unmount_rootfs(self, cid: str) -> None:
        target = self.rootfs_path(cid)
        if is_mounted(target):
            self.svc.unmount_container_rootfs(target)

    def remove_rootfs(self, cid: str) -> None:
        target = self.rootfs_path(cid)
        self.svc.remove_container_rootfs(cid, target if is_mounted(target) else None)

    def rootfs_size(self, cid: str) -> int:
        try:
            return self.svc.container_size(cid)
        except Exception:
            return 0

    def image_size(self, image_id: str) -> int:
        try:
            return self.svc.resolve(image_id).size
        except NotFound:
            return 0

    def graph_driver(self, cid: str) -> dict[str, Any]:
        return {"Name": self.driver, "Data": None}

    def changes(self, cid: str) -> list[dict[str, Any]]:
        kinds = {"C": 0, "A": 1, "D": 2}
        out = []
        for ch in self.svc.container_changes(cid):
            kind = getattr(ch, "kind", None)
            kind = getattr(kind, "value", kind)
            out.append({"Path": ch.path, "Kind": kinds.get(str(kind), kind)})
        return out

    def export(self, cid: str) -> Iterator[bytes]:
        return _produce(lambda out: self.svc.export_container(cid, out))

    # ---- image routes ------------------------------------------------------------------

    def list(self, all: bool, filters: dict[str, list[str]], digests: bool) -> list[dict]:
        from berth.image.store import ImageFilters

        usage = self.in_use()
        out = []
        for rec in self.svc.list_images(ImageFilters.from_api(filters), all=all):
            out.append(
                {
                    "Id": rec.id,
                    "ParentId": rec.parent or "",
                    "RepoTags": rec.repo_tags or [],
                    "RepoDigests": rec.repo_digests or [],
                    "Created": unix_time(rec.created),
                    "Size": rec.size,
                    "VirtualSize": rec.size,
                    "SharedSize": -1,
                    "Labels": rec.labels or None,
                    "Containers": len(usage.get(rec.id, ())) if usage else -1,
                }
            )
        return out

    def inspect(self, name: str) -> dict:
        return self.svc.inspect(name)

    def history(self, name: str) -> list[dict]:
        return self.svc.history(name)

    def tag(self, source: str, repo: str, tag: str) -> None:
        target = f"{repo}:{tag}" if tag else repo
        rec = self.svc.resolve(source)
        self.svc.tag(source, target)
        self.events.emit("image", "tag", rec.id, {"name": target})

    def remove(self, name: str, force: bool, prune: bool) -> list[dict]:
        records = self.svc.delete(name, force=force, noprune=not prune, in_use=self.in_use())
        for r in records:
            if r.untagged:
                self.events.emit("image", "untag", r.untagged, {"name": r.untagged})
            else:
                self.events.emit("image", "delete", r.deleted, {"name": r.deleted})
        return [r.to_json() for r in records]

    def prune(self, filters: dict[str, list[str]]) -> dict:
        dangling = filters.pop("dangling", ["true"])
        everything = dangling and dangling[0].lower() in ("false", "0")
        report = self.svc.prune(all=everything, in_use=self.in_use(), filters=filters)
        self.events.emit("image", "prune", "", {"reclaimed": str(report.space_reclaimed)})
        return {
            "ImagesDeleted": [r.to_json() for r in report.deleted] or None,
            "SpaceReclaimed": report.space_reclaimed,
        }

    def load(self, body: IO[bytes]) -> list[str]:
        messages = []
        for img in self.svc.load(body):  # type: ignore[arg-type]
            messages.extend(m + "\n" for m in img.messages())
            self.events.emit("image", "load", img.image_id, {"name": img.image_id})
        return messages

    def save(self, names: list[str]) -> Iterator[bytes]:
        for n in names:
            self.svc.resolve(n)
        return _produce(lambda out: self.svc.save(names, out))

    def import_rootfs(
        self, body: IO[bytes], repo: str, tag: str, message: str, changes: list[str]
    ) -> list[dict]:
        target = (f"{repo}:{tag}" if tag else repo) or None
        rec = self.svc.import_rootfs(body, changes=changes, tag=target, message=message)  # type: ignore[arg-type]
        self.events.emit("image", "import", rec.id, {"name": target or rec.id})
        return [{"status": rec.id}]

    def make_busybox_image(self, tag: str = "busybox:latest") -> str:
        rec = self.svc.make_busybox_image(tag=tag)
        self.events.emit("image", "import", rec.id, {"name": tag})
        return rec.id

    def make_debian_image(self, tag: str, suite: str, mirror: str) -> str:
        rec = self.svc.make_debian_image(tag=tag, suite=suite, mirror=mirror)
        self.events.emit("image", "import", rec.id, {"name": tag})
        return rec.id

    def disk_usage(self) -> Any:
        return self.svc.disk_usage(self.in_use())


class _QueueWriter(io.RawIOBase):
    def __init__(self, q: queue.Queue[bytes | BaseException | None], gone: threading.Event) -> None:
        self.q = q
        self.gone = gone

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        while data:
            if self.gone.is_set():
                raise BrokenPipeError("the client went away")
            try:
                self.q.put(data, timeout=1.0)
                break
            except queue.Full:
                continue
        return len(data)


def _produce(fn: Callable[[Any], None]) -> Iterator[bytes]:
    """Run a writer function in a thread and yield what it writes (bounded buffer)."""
    q: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=64)
    gone = threading.Event()

    def run() -> None:
        try:
            with io.BufferedWriter(_QueueWriter(q, gone), 1 << 16) as out:
                fn(out)
        except BaseException as exc:
            if not gone.is_set():
                q.put(exc)
        else:
            q.put(None)

    threading.Thread(target=run, daemon=True).start()

    def chunks() -> Iterator[bytes]:
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            gone.set()

    return chunks()

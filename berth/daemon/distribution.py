"""The daemon's distribution service: pull, push, login, search, distribution info.

It wires `berth.distribution` to what only the daemon has: the images service
(content store, image store, snapshots), the metadata connection (blob sources
for cross-repository mounts), events, and the registry settings from the
daemon's options (`registry_mirrors`, `insecure_registries`,
`max_concurrent_downloads`, `max_concurrent_uploads`: berthd's
`--registry-mirror`, `--insecure-registry`, `--max-concurrent-downloads`,
`--max-concurrent-uploads` flags or the same daemon.json keys, plural). Credentials arrive per request (X-Registry-Auth).

Long operations run on a worker thread and hand Docker's JSON progress
messages to the caller through a queue, so the API can stream them; an error
before the first message is raised (the route answers with its status), an
error after it becomes the stream's final `errorDetail` message, as in Docker.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from berth import errors
from berth.distribution.credentials import Credential
from berth.distribution.progress import error_message
from berth.distribution.registry import RegistryOptions
from berth.distribution.session import Session
from berth.distribution.sources import SourceStore

log = logging.getLogger(__name__)

_DONE = object()


def create(ctx: Any) -> DistributionService:
    opts = ctx.options  # berth.daemon.config.DaemonOptions: flags and daemon.json
    options = RegistryOptions(
        insecure_registries=opts.insecure_registries,
        mirrors=opts.registry_mirrors,
        max_concurrent_downloads=opts.max_concurrent_downloads,
        max_concurrent_uploads=opts.max_concurrent_uploads,
    )
    images = ctx.images
    return DistributionService(getattr(images, "svc", images), ctx.db, ctx.events, options)


class DistributionService:
    def __init__(self, image_service: Any, db: Any, events: Any, options: RegistryOptions) -> None:
        self.images = image_service
        self.sources = SourceStore(db)
        self.events = events
        self.options = options
        self.lock = threading.Lock()  # one writer on the shared SQLite connection

    def _session(self, credential: Credential | None) -> Session:
        return Session(self.options, lambda domain: credential or Credential())

    # ---- operations (each returns a stream of progress messages) ----------------------
    def pull(
        self,
        reference: str,
        *,
        all_tags: bool = False,
        platform: str | None = None,
        credential: Credential | None = None,
    ) -> Iterator[dict[str, Any]]:
        from berth.distribution.pull import Puller
        from berth.image.types import parse_platform

        want = parse_platform(platform) if platform else None
        session = self._session(credential)
        puller = Puller(
            self.images,
            session,
            sources=self.sources,
            max_concurrent_downloads=self.options.max_concurrent_downloads,
            lock=self.lock,
        )

        def run(emit: Callable[[dict], None]) -> None:
            try:
                for result in puller.pull(reference, platform=want, all_tags=all_tags, emit=emit):
                    self._event("pull", result.reference)
            finally:
                session.close()

        return _stream(run)

    def push(
        self, reference: str, *, all_tags: bool = False, credential: Credential | None = None
    ) -> Iterator[dict[str, Any]]:
        from berth.distribution.push import Pusher

        session = self._session(credential)
        pusher = Pusher(
            self.images,
            session,
            sources=self.sources,
            max_concurrent_uploads=self.options.max_concurrent_uploads,
            lock=self.lock,
        )

        def run(emit: Callable[[dict], None]) -> None:
            try:
                for result in pusher.push(reference, all_tags=all_tags, emit=emit):
                    self._event("push", result.reference)
            finally:
                session.close()

        return _stream(run)

    def login(self, server: str, credential: Credential) -> dict[str, str]:
        from berth.distribution.remote import login

        session = self._session(None)
        try:
            return login(session, server, credential)
        finally:
            session.close()

    def distribution_info(
        self, reference: str, credential: Credential | None = None
    ) -> dict[str, Any]:
        from berth.distribution.remote import distribution_info

        session = self._session(credential)
        try:
            return distribution_info(session, reference)
        finally:
            session.close()

    def search(
        self, term: str, limit: int = 25, credential: Credential | None = None
    ) -> list[dict[str, Any]]:
        from berth.distribution.remote import search

        session = self._session(credential)
        try:
            return search(session, term, limit)
        finally:
            session.close()

    def _event(self, action: str, name: str) -> None:
        try:
            self.events.emit("image", action, name, {"name": name})
        except Exception:  # events are best effort; the operation succeeded
            log.exception("emitting image %s event for %s failed", action, name)


def _stream(run: Callable[[Callable[[dict], None]], None]) -> Iterator[dict[str, Any]]:
    """Run `run(emit)` on a thread; raise its error if it fails before any message."""
    q: queue.Queue = queue.Queue(maxsize=1024)

    def worker() -> None:
        try:
            run(q.put)
        except BaseException as e:  # handed to the consumer
            q.put(e)
        finally:
            q.put(_DONE)

    threading.Thread(target=worker, name="distribution", daemon=True).start()
    first = q.get()
    if isinstance(first, BaseException):
        q.get()
        raise first
    return _rest(first, q)


def _rest(first: Any, q: queue.Queue) -> Iterator[dict[str, Any]]:
    item = first
    while item is not _DONE:
        if isinstance(item, BaseException):
            message = (
                str(item) if isinstance(item, errors.BerthError) else f"internal error: {item!r}"
            )
            if not isinstance(item, errors.BerthError):
                log.error("distribution operation failed", exc_info=item)
            yield error_message(message)
        else:
            yield item
        item = q.get()

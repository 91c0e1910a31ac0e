"""The daemon's build service: `POST /build` (Docker's classic builder protocol)
and `POST /commit`, over berth.build's engine and the images service.

A build's output is a stream of Engine API JSON messages: `{"stream": text}`
for the log, `{"aux": {"ID": id}}` once the image exists, and
`{"error": msg, "errorDetail": {"message": msg, "code": n}}` when it fails
(the docker CLI exits with `code`, a failed RUN's exit status). The context
is extracted and the Dockerfile parsed *before* the stream starts, so a bad
Dockerfile is an HTTP 400 ("Error response from daemon: ...").
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from berth.errors import BerthError, Conflict, InvalidArgument

log = logging.getLogger(__name__)


def create(ctx: Any) -> BuildService:
    return BuildService(ctx)


@dataclass(slots=True)
class BuildRequest:
    """`POST /build`'s query, typed (the route parses, the service decides)."""

    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    quiet: bool = False
    network: str = "default"


class BuildService:
    def __init__(self, ctx: Any) -> None:
        from berth.build.engine import BuildEngine

        self.ctx = ctx
        self.images = ctx.images  # berth.daemon.images.DaemonImages
        self.containers = ctx.containers
        self.events = ctx.events
        try:
            runtime = ctx.containers.runtime_path(ctx.options.default_runtime)
        except BerthError:  # never keep the daemon from starting; RUN steps will say why
            runtime = ctx.options.default_runtime
        from berth.db import open_db

        # its own connection: cache writes never land inside another service's
        # transaction on the shared one (WAL lets both work at once)
        self._db = open_db(ctx.data_root / "berth.db")
        self.engine = BuildEngine(
            ctx.images.svc,
            self._db,
            state_dir=ctx.data_root / "build",
            runtime=runtime,
            pull=self._pull,
        )
        try:
            self.engine.recover()
        except (BerthError, OSError):
            log.exception("cleaning up after interrupted builds failed")
        self._daemon_services: Any = None

    def close(self) -> None:
        self._db.close()

    # -- build ---------------------------------------------------------------

    def build(self, body: BinaryIO, req: BuildRequest) -> Iterator[dict[str, Any]]:
        """Parse now (errors raise), then build in a thread while the caller streams."""
        from berth.build.builder import BuildOptions, StepFailed

        if req.network not in ("default", "host", "none", "bridge", ""):
            raise InvalidArgument(f"network mode {req.network!r} is not supported for builds")
        for tag in req.tags:
            from berth.image import reference as refs

            refs.parse(tag)
        job = self.engine.prepare_tar(body, req.dockerfile or "Dockerfile")
        opts = BuildOptions(
            tags=list(req.tags),
            build_args=dict(req.build_args),
            target=req.target,
            labels=dict(req.labels),
            no_cache=req.no_cache,
            pull=req.pull,
            network="default" if req.network in ("", "bridge") else req.network,
        )
        q: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def out(text: str) -> None:
            if not req.quiet and text:
                q.put({"stream": text})

        def run() -> None:
            try:
                result = self.engine.run(
                    job, opts, out, on_built=lambda i: q.put({"aux": {"ID": i}})
                )
                if req.quiet:
                    q.put({"stream": result.image_id + "\n"})
                for tag in result.tags:
                    self.events.emit("image", "tag", result.image_id, {"name": tag})
            except StepFailed as exc:
                q.put(_error(exc.message, exc.code))
            except BerthError as exc:
                q.put(_error(exc.message, 1))
            except Exception as exc:  # a bug: report it, keep the daemon
                log.exception("build failed")
                q.put(_error(f"{type(exc).__name__}: {exc}", 1))
            finally:
                job.close()
                q.put(None)

        threading.Thread(target=run, name="build", daemon=True).start()

        def messages() -> Iterator[dict[str, Any]]:
            while (item := q.get()) is not None:
                yield item

        return messages()

    def _pull(self, name: str, out: Any) -> None:
        dist = self._distribution()
        if dist is None:
            from berth.errors import NotFound

            raise NotFound(
                f"pull access denied for {name}: no such image locally and no registry service"
            )
        for msg in dist.pull(name):
            if "error" in msg:
                raise InvalidArgument(msg.get("error") or f"pulling {name} failed")
            status = msg.get("status", "")
            if msg.get("progressDetail") or not status:
                continue
            prefix = f"{msg['id']}: " if msg.get("id") else ""
            out(f"{prefix}{status}\n")

    def _distribution(self) -> Any:
        return self._daemon_services.service("distribution") if self._daemon_services else None

    def attach_daemon(self, daemon: Any) -> None:
        """Route handlers hand the daemon over so that pulls reach distribution."""
        if self._daemon_services is None and daemon.has_service("distribution"):
            self._daemon_services = daemon

    def prune(self) -> dict[str, Any]:
        """`docker builder prune`: forget the cache table and the RUN --mount caches."""
        deleted, reclaimed = self.engine.prune()
        return {"CachesDeleted": deleted, "SpaceReclaimed": reclaimed}

    # -- commit ----------------------------------------------------------------

    def commit(
        self,
        container: str,
        *,
        repo: str = "",
        tag: str = "",
        comment: str = "",
        author: str = "",
        pause: bool = True,
        changes: list[str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> str:
        """`docker commit`: the container's changes as a layer on its image; the image
        id. The config is the container's, overlaid with `config`, then `changes`."""
        from berth.image import reference as refs
        from berth.image.config_changes import apply_changes

        c = self.containers.get(container)
        tags: list[str] = []
        if repo:
            ref = refs.parse(f"{repo}:{tag}" if tag else repo)
            if ref.digest:
                raise InvalidArgument("refusing to create a tag with a digest reference")
            tags.append(str(ref.tagged_or_latest()))
        elif tag:
            raise InvalidArgument("tag given without a repository")
        cfg = _image_config(c.config)
        for key, value in (config or {}).items():
            if value not in (None, "", [], {}):
                cfg[key] = value
        cfg = apply_changes(cfg, changes or [])
        paused_here = False
        if pause and c.state.status.value == "running":
            self.containers.pause(c.id)
            paused_here = True
        try:
            created_by = " ".join(
                [*(c.config.get("Entrypoint") or []), *(c.config.get("Cmd") or [])]
            )
            rec = self.images.svc.commit_container(
                c.id,
                c.image_id,
                config=cfg,
                created_by=created_by,
                comment=comment,
                author=author,
                tags=tags,
            )
        finally:
            if paused_here:
                try:
                    self.containers.unpause(c.id)
                except Conflict:
                    pass
        self.events.emit("container", "commit", c.id, {"comment": comment, "imageID": rec.id})
        return rec.id


def _error(message: str, code: int) -> dict[str, Any]:
    return {"errorDetail": {"code": code, "message": message}, "error": message}


def _image_config(container_config: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in container_config.items() if k not in ("Image",)}
    return out

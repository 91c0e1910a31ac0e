"""Container routes: parse, one call into `daemon.containers`, render."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from berth.api import version as api_version
from berth.api.http import (
    HijackResponse,
    RawStream,
    Request,
    Response,
    StreamResponse,
    json_response,
    no_content,
)
from berth.api.router import Router
from berth.daemon.timefmt import parse_time_nano
from berth.errors import InvalidArgument

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def _multiplexed(d, cid: str) -> bool:
    """Without a tty, stdout and stderr travel in 8-byte-header frames, at every API version."""
    return not d.containers.get(cid).config.get("Tty")


def _stream_type(req: Request, multiplexed: bool) -> str:
    """Only the Content-Type depends on the version: before 1.42 it always said raw-stream."""
    old = api_version.parse(req.api_version) < (1, 42)
    return MUX if multiplexed and not old else RAW


def create(d, req: Request) -> Response:
    body = req.json_object()
    cid, warnings = d.containers.create(body, name=req.arg("name") or None)
    return json_response({"Id": cid, "Warnings": warnings}, 201)


def list_(d, req: Request) -> Response:
    docs = d.containers.list(
        all=req.flag("all"),
        limit=req.int_arg("limit", -1) or -1,
        size=req.flag("size"),
        filters=req.filters(),
    )
    return json_response(docs)


def inspect(d, req: Request) -> Response:
    return json_response(d.containers.inspect(req.params["id"], size=req.flag("size")))


def start(d, req: Request) -> Response:
    d.containers.start(req.params["id"])
    return no_content()


def stop(d, req: Request) -> Response:
    d.containers.stop(req.params["id"], timeout=req.int_arg("t"), signal=req.arg("signal"))
    return no_content()


def restart(d, req: Request) -> Response:
    d.containers.restart(req.params["id"], timeout=req.int_arg("t"), signal=req.arg("signal"))
    return no_content()


def kill(d, req: Request) -> Response:
    d.containers.kill(req.params["id"], req.arg("signal") or "SIGKILL")
    return no_content()


def pause(d, req: Request) -> Response:
    d.containers.pause(req.params["id"])
    return no_content()


def unpause(d, req: Request) -> Response:
    d.containers.unpause(req.params["id"])
    return no_content()


def wait(d, req: Request) -> StreamResponse:
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    waiter = d.containers.waiter(req.params["id"], condition)

    def chunks() -> Iterator[bytes]:
        # the headers go out before the first chunk: docker waits for them before start
        code, error = waiter()
        doc: dict = {"StatusCode": code}
        if error:
            doc["Error"] = {"Message": error}
        yield json.dumps(doc).encode() + b"\n"

    return StreamResponse(chunks())


def attach(d, req: Request) -> HijackResponse:
    cid = req.params["id"]
    session = d.containers.attach(
        cid,
        stdin=req.flag("stdin"),
        stdout=req.flag("stdout"),
        stderr=req.flag("stderr"),
        stream=req.flag("stream"),
        logs=req.flag("logs"),
        detach_keys=req.arg("detachKeys"),
        multiplex=_multiplexed(d, cid),
    )

    def run(conn: RawStream) -> None:
        session(conn)

    return HijackResponse(run, _stream_type(req, _multiplexed(d, cid)))


def logs(d, req: Request) -> StreamResponse:
    cid = req.params["id"]
    stdout, stderr = req.flag("stdout"), req.flag("stderr")
    if not stdout and not stderr:
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    tail = req.arg("tail") or "all"
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise InvalidArgument(f"invalid value for tail: {tail!r} (a number or all)")
    chunks = d.containers.logs(
        cid,
        follow=req.flag("follow"),
        since=parse_time_nano(req.arg("since")),
        until=parse_time_nano(req.arg("until")),
        tail=-1 if tail == "all" else int(tail),
        timestamps=req.flag("timestamps"),
        stdout=stdout,
        stderr=stderr,
    )
    return StreamResponse(chunks, content_type=_stream_type(req, _multiplexed(d, cid)))


def top(d, req: Request) -> Response:
    return json_response(d.containers.top(req.params["id"], req.arg("ps_args") or "-ef"))


def rename(d, req: Request) -> Response:
    name = req.arg("name")
    if not name:
        raise InvalidArgument("name is required")
    d.containers.rename(req.params["id"], name)
    return no_content()


def resize(d, req: Request) -> Response:
    d.containers.resize(req.params["id"], req.int_arg("h", 0), req.int_arg("w", 0))
    return Response(200, b"", "text/plain")


def changes(d, req: Request) -> Response:
    return json_response(d.containers.changes(req.params["id"]))


def export(d, req: Request) -> StreamResponse:
    return StreamResponse(d.containers.export(req.params["id"]), content_type="application/x-tar")


def _stat_header(stat: dict) -> dict[str, str]:
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}


def archive_head(d, req: Request) -> Response:
    stat = d.containers.archive_stat(req.params["id"], _path(req))
    return Response(200, b"", None, _stat_header(stat))


def archive_get(d, req: Request) -> StreamResponse:
    stat, chunks = d.containers.archive_get(req.params["id"], _path(req))
    return StreamResponse(chunks, content_type="application/x-tar", headers=_stat_header(stat))


def archive_put(d, req: Request) -> Response:
    d.containers.archive_put(
        req.params["id"],
        _path(req),
        req.body,
        no_overwrite_dir_non_dir=req.flag("noOverwriteDirNonDir"),
        copy_uid_gid=req.flag("copyUIDGID"),
    )
    return Response(200, b"", None)


def _path(req: Request) -> str:
    path = req.arg("path")
    if not path:
        raise InvalidArgument("path is required")
    return path


def delete(d, req: Request) -> Response:
    d.containers.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
    return no_content()


def prune(d, req: Request) -> Response:
    deleted, space = d.containers.prune(req.filters())
    return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": space})


def update(d, req: Request) -> Response:
    warnings = d.containers.update(req.params["id"], req.json_object())
    return json_response({"Warnings": warnings})


def stats(d, req: Request) -> Response | StreamResponse:
    cid = req.params["id"]
    stream = req.flag("stream", True) and not req.flag("one-shot")
    if not stream:
        return json_response(d.containers.stats_once(cid, req.flag("one-shot")))
    return StreamResponse(json.dumps(s).encode() + b"\n" for s in d.containers.stats_stream(cid))


def register(router: Router) -> None:
    router.post("/containers/create", create)
    router.get("/containers/json", list_)
    router.post("/containers/prune", prune)
    router.get("/containers/{id}/json", inspect)
    router.post("/containers/{id}/start", start)
    router.post("/containers/{id}/stop", stop)
    router.post("/containers/{id}/restart", restart)
    router.post("/containers/{id}/kill", kill)
    router.post("/containers/{id}/pause", pause)
    router.post("/containers/{id}/unpause", unpause)
    router.post("/containers/{id}/wait", wait)
    router.post("/containers/{id}/attach", attach)
    router.get("/containers/{id}/logs", logs)
    router.get("/containers/{id}/top", top)
    router.post("/containers/{id}/rename", rename)
    router.post("/containers/{id}/resize", resize)
    router.get("/containers/{id}/changes", changes)
    router.get("/containers/{id}/export", export)
    router.head("/containers/{id}/archive", archive_head)
    router.get("/containers/{id}/archive", archive_get)
    router.put("/containers/{id}/archive", archive_put)
    router.post("/containers/{id}/update", update)
    router.get("/containers/{id}/stats", stats)
    router.delete("/containers/{id}", delete)

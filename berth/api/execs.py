"""Exec routes: create, start (hijacked or detached), resize, inspect."""

from __future__ import annotations

from berth.api.http import HijackResponse, RawStream, Request, Response, json_response
from berth.api.router import Router
from berth.errors import InvalidArgument

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def create(d, req: Request) -> Response:
    body = req.json_object()
    cmd = body.get("Cmd")
    if not cmd or not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
        raise InvalidArgument("No exec command specified")
    exec_id = d.execs.create(req.params["id"], body)
    return json_response({"Id": exec_id}, 201)


def start(d, req: Request) -> Response | HijackResponse:
    body = req.json_object()
    exec_id = req.params["id"]
    if body.get("Detach"):
        d.execs.start_detached(exec_id)
        return Response(200, b"", None)
    tty = bool(body.get("Tty")) or d.execs.get(exec_id).tty
    session = d.execs.start_attached(exec_id, multiplex=not tty)

    def run(conn: RawStream) -> None:
        session(conn)

    return HijackResponse(run, RAW if tty else MUX)


def resize(d, req: Request) -> Response:
    d.execs.resize(req.params["id"], req.int_arg("h", 0), req.int_arg("w", 0))
    return Response(200, b"", None)


def inspect(d, req: Request) -> Response:
    return json_response(d.execs.inspect(req.params["id"]))


def register(router: Router) -> None:
    router.post("/containers/{id}/exec", create)
    router.post("/exec/{id}/start", start)
    router.post("/exec/{id}/resize", resize)
    router.get("/exec/{id}/json", inspect)

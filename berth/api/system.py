"""System routes: _ping, version, info, events, system/df."""

from __future__ import annotations

import json
from collections.abc import Iterator

from berth.api import version as api_version
from berth.api.http import Request, Response, StreamResponse, json_response
from berth.api.router import Router
from berth.daemon.timefmt import parse_time_nano


def ping(d, req: Request) -> Response:
    headers = {"Builder-Version": "1", "Cache-Control": "no-cache, no-store, must-revalidate"}
    headers["Pragma"] = "no-cache"
    return Response(
        200, b"" if req.method == "HEAD" else b"OK", "text/plain; charset=utf-8", headers
    )


def version(d, req: Request) -> Response:
    return json_response(d.system.version(api_version.API_VERSION, api_version.MIN_API_VERSION))


def info(d, req: Request) -> Response:
    return json_response(d.system.info())


def df(d, req: Request) -> Response:
    return json_response(d.system.disk_usage())


def events(d, req: Request) -> StreamResponse:
    since = parse_time_nano(req.arg("since"))
    until = parse_time_nano(req.arg("until"))
    stream = d.events.subscribe(since, until, req.filters())

    def chunks() -> Iterator[bytes]:
        try:
            for event in stream:
                # b"" is skipped by the writer; a heartbeat lets a gone client be noticed
                yield b"" if event is None else json.dumps(event.to_docker()).encode() + b"\n"
        finally:
            stream.close()

    return StreamResponse(chunks())


def make_busybox(d, req: Request) -> Response:
    """berth's own route: busybox:latest from the host's static busybox, no network."""
    image_id = d.images.make_busybox_image(req.arg("tag") or "busybox:latest")
    return json_response({"Id": image_id}, 201)


def make_debian(d, req: Request) -> Response:
    """berth's own route: debian:<suite> by debootstrap (minbase) from a Debian mirror."""
    suite = req.arg("suite") or "bookworm"
    image_id = d.images.make_debian_image(
        req.arg("tag") or f"debian:{suite}",
        suite,
        req.arg("mirror") or "http://deb.debian.org/debian",
    )
    return json_response({"Id": image_id}, 201)


def register(router: Router) -> None:
    router.post("/berth/images/busybox", make_busybox)
    router.post("/berth/images/debian", make_debian)
    router.get("/_ping", ping)
    router.get("/version", version)
    router.get("/info", info)
    router.get("/events", events)
    router.get("/system/df", df)

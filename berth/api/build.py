"""Build routes: `POST /build` (classic builder protocol) and `POST /commit`."""

from __future__ import annotations

import json
from typing import Any

from berth.api.http import Request, Response, StreamResponse, iter_json_lines, json_response
from berth.api.router import Router
from berth.errors import InvalidArgument, NotImplementedYet


def _json_map(req: Request, name: str) -> dict[str, Any]:
    text = req.arg(name)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid {name} parameter: not JSON") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name} parameter: not a JSON object")
    return value


def build(d, req: Request) -> StreamResponse:
    from berth.daemon.build import BuildRequest

    if req.arg("remote"):
        raise NotImplementedYet("remote build contexts (git or URL) are not supported")
    if (req.arg("version") or "1") == "2":
        raise NotImplementedYet("BuildKit is not supported by berthd; use DOCKER_BUILDKIT=0")
    svc = d.service("build")
    svc.attach_daemon(d)
    messages = svc.build(
        req.body,
        BuildRequest(
            tags=req.args("t"),
            dockerfile=req.arg("dockerfile") or "Dockerfile",
            build_args=_json_map(req, "buildargs"),
            target=req.arg("target") or "",
            labels={str(k): str(v) for k, v in _json_map(req, "labels").items()},
            no_cache=req.flag("nocache"),
            pull=req.flag("pull"),
            quiet=req.flag("q"),
            network=req.arg("networkmode") or "default",
        ),
    )
    return StreamResponse(iter_json_lines(messages))


def commit(d, req: Request) -> Response:
    container = req.arg("container")
    if not container:
        raise InvalidArgument("container is required")
    body = req.json()
    image_id = d.service("build").commit(
        container,
        repo=req.arg("repo") or "",
        tag=req.arg("tag") or "",
        comment=req.arg("comment") or "",
        author=req.arg("author") or "",
        pause=req.flag("pause", True),
        changes=req.args("changes"),
        config=body if isinstance(body, dict) else None,
    )
    return json_response({"Id": image_id}, 201)


def prune(d, req: Request) -> Response:
    return json_response(d.service("build").prune())


def register(router: Router) -> None:
    router.post("/build", build)
    router.post("/commit", commit)
    router.post("/build/prune", prune)

"""Routes of /volumes: Docker's JSON in and out; the decisions are VolumeService's.

Handlers reach the service as `daemon.service("volumes")` (berth/daemon/volumes.py).
"""

from __future__ import annotations

from typing import Any

from berth.api.http import Request, Response, json_response
from berth.errors import InvalidArgument


def _str_dict(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: expected an object")
    return {str(k): str(v) for k, v in value.items()}


def list_volumes(daemon: Any, req: Request) -> Response:
    return json_response({"Volumes": daemon.service("volumes").list(req.filters()), "Warnings": []})


def create_volume(daemon: Any, req: Request) -> Response:
    body = req.json_object()
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise InvalidArgument("invalid volume name")
    vol = daemon.service("volumes").create(
        name,
        driver=body.get("Driver") or "local",
        labels=_str_dict(body.get("Labels"), "Labels"),
        options=_str_dict(body.get("DriverOpts"), "DriverOpts"),
    )
    return json_response(vol, status=201)


def inspect_volume(daemon: Any, req: Request) -> Response:
    return json_response(daemon.service("volumes").inspect_volume(req.params["name"]))


def remove_volume(daemon: Any, req: Request) -> Response:
    daemon.service("volumes").remove(req.params["name"], force=req.flag("force"))
    return Response(204, b"", None)


def prune_volumes(daemon: Any, req: Request) -> Response:
    names, space = daemon.service("volumes").prune(req.filters())
    return json_response({"VolumesDeleted": names, "SpaceReclaimed": space})


def register(router: Any) -> None:
    router.get("/volumes", list_volumes)
    router.post("/volumes/create", create_volume)
    router.post("/volumes/prune", prune_volumes)
    router.get("/volumes/{name}", inspect_volume)
    router.delete("/volumes/{name}", remove_volume)

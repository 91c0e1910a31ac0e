"""Image routes (pull and push belong to berth/api/distribution.py)."""

from __future__ import annotations

from berth.api.http import Request, Response, StreamResponse, iter_json_lines, json_response
from berth.api.router import Router
from berth.errors import InvalidArgument


def list_(d, req: Request) -> Response:
    return json_response(
        d.images.list(all=req.flag("all"), filters=req.filters(), digests=req.flag("digests"))
    )


def inspect(d, req: Request) -> Response:
    return json_response(d.images.inspect(req.params["name"]))


def history(d, req: Request) -> Response:
    return json_response(d.images.history(req.params["name"]))


def tag(d, req: Request) -> Response:
    repo = req.arg("repo")
    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    d.images.tag(req.params["name"], repo, req.arg("tag") or "")
    return Response(201, b"", None)


def delete(d, req: Request) -> Response:
    return json_response(
        d.images.remove(
            req.params["name"], force=req.flag("force"), prune=req.flag("noprune") is False
        )
    )


def prune(d, req: Request) -> Response:
    return json_response(d.images.prune(req.filters()))


def load(d, req: Request) -> StreamResponse:
    messages = d.images.load(req.body)  # `quiet` only silences progress, which we have none of
    return StreamResponse(iter_json_lines({"stream": m} for m in messages))


def get_many(d, req: Request) -> StreamResponse:
    names = req.args("names")
    if not names:
        raise InvalidArgument("no images to save")
    return StreamResponse(d.images.save(names), content_type="application/x-tar")


def get_one(d, req: Request) -> StreamResponse:
    return StreamResponse(d.images.save([req.params["name"]]), content_type="application/x-tar")


def create(d, req: Request) -> StreamResponse:
    """`fromSrc=-` imports a rootfs tarball; `fromImage` (pull) is distribution's."""
    src = req.arg("fromSrc")
    if src is None:
        if d.has_service("distribution"):
            from berth.api.distribution import pull

            return pull(d.service("distribution"), req)
        raise InvalidArgument("pull is not available in this daemon (no distribution service)")
    if src != "-":
        raise InvalidArgument("importing from a URL is not supported; pipe the tarball with -")
    progress = d.images.import_rootfs(
        req.body,
        repo=req.arg("repo") or "",
        tag=req.arg("tag") or "",
        message=req.arg("message") or "",
        changes=req.args("changes"),
    )
    return StreamResponse(iter_json_lines(progress))


def register(router: Router) -> None:
    router.get("/images/json", list_)
    router.post("/images/create", create)
    router.post("/images/load", load)
    router.get("/images/get", get_many)
    router.post("/images/prune", prune)
    router.get("/images/{name:path}/json", inspect)
    router.get("/images/{name:path}/history", history)
    router.get("/images/{name:path}/get", get_one)
    router.post("/images/{name:path}/tag", tag)
    router.delete("/images/{name:path}", delete)

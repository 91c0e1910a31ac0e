"""Distribution routes: pull (via /images/create), push, auth, distribution info, search.

Parse, one call into the daemon's distribution service, render. Credentials
come in `X-Registry-Auth` (base64url JSON: username, password, serveraddress,
identitytoken), as the Engine API specifies.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from berth.api.http import Request, Response, StreamResponse, iter_json_lines, json_response
from berth.distribution.credentials import Credential
from berth.errors import InvalidArgument


def credential_of(req: Request) -> Credential | None:
    raw = req.headers.get("X-Registry-Auth")
    if not raw:
        return None
    try:
        padded = raw + "=" * (-len(raw) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("invalid X-Registry-Auth header") from None
    if not isinstance(doc, dict):
        return None
    return Credential(
        doc.get("username") or "", doc.get("password") or "", doc.get("identitytoken") or ""
    )


def pull(service: Any, req: Request) -> StreamResponse:
    image = req.arg("fromImage") or ""
    if not image:
        raise InvalidArgument("fromImage is required")
    tag = req.arg("tag") or ""
    reference = image
    all_tags = False
    if tag:
        reference = f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    elif "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        all_tags = True  # the docker CLI sends no tag for `pull -a`
    messages = service.pull(
        reference,
        all_tags=all_tags,
        platform=req.arg("platform") or None,
        credential=credential_of(req),
    )
    return StreamResponse(iter_json_lines(messages))


def push(d: Any, req: Request) -> StreamResponse:
    name = req.params["name"]
    tag = req.arg("tag") or ""
    reference = f"{name}:{tag}" if tag else name
    messages = d.service("distribution").push(
        reference, all_tags=not tag, credential=credential_of(req)
    )
    return StreamResponse(iter_json_lines(messages))


def auth(d: Any, req: Request) -> Response:
    body = req.json_object()
    cred = Credential(
        body.get("username") or "", body.get("password") or "", body.get("identitytoken") or ""
    )
    return json_response(d.service("distribution").login(body.get("serveraddress") or "", cred))


def distribution_info(d: Any, req: Request) -> Response:
    return json_response(
        d.service("distribution").distribution_info(req.params["name"], credential_of(req))
    )


def search(d: Any, req: Request) -> Response:
    term = req.arg("term") or ""
    limit = req.int_arg("limit", 25) or 25
    results = d.service("distribution").search(term, limit, credential_of(req))
    filters = req.filters()
    for value in filters.get("is-official", []):
        results = [r for r in results if bool(r.get("is_official")) == (value == "true")]
    for value in filters.get("stars", []):
        results = [r for r in results if int(r.get("star_count") or 0) >= int(value)]
    return json_response(results)


def register(router: Any) -> None:
    router.post("/images/{name:path}/push", push)
    router.post("/auth", auth)
    router.get("/distribution/{name:path}/json", distribution_info)
    router.get("/images/search", search)

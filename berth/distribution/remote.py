"""Read-only questions to a registry: manifest inspect, distribution info, search, login.

These back `berth manifest inspect`, `GET /distribution/{name}/json`,
`berth search` / `GET /images/search` and `berth login` / `POST /auth`.
"""

from __future__ import annotations

import json
from typing import Any

from berth import errors
from berth.distribution.credentials import HUB_KEY, Credential
from berth.distribution.registry import HUB_DOMAIN
from berth.distribution.session import Session
from berth.image import reference as refs
from berth.image.types import INDEX_TYPES, Manifest, parse_manifest_or_index

HUB_SEARCH = "index.docker.io"


def inspect_manifest(session: Session, reference: str) -> dict[str, Any]:
    """The manifest or index a reference names, as JSON (`docker manifest inspect`)."""
    ref = refs.parse(reference).tagged_or_latest()
    client = session.client(ref.domain)
    fetched = client.get_manifest(
        ref.path, ref.digest or ref.tag or refs.DEFAULT_TAG, display=ref.familiar()
    )
    return json.loads(fetched.body)


def distribution_info(session: Session, reference: str) -> dict[str, Any]:
    """`GET /distribution/{name}/json`: the descriptor and the platforms it offers."""
    ref = refs.parse(reference).tagged_or_latest()
    client = session.client(ref.domain)
    fetched = client.get_manifest(
        ref.path, ref.digest or ref.tag or refs.DEFAULT_TAG, display=ref.familiar()
    )
    parsed = parse_manifest_or_index(fetched.body, fetched.media_type)
    platforms: list[dict[str, Any]] = []
    if fetched.media_type in INDEX_TYPES:
        for d in parsed.manifests:  # type: ignore[union-attr]
            if d.platform is not None and d.platform.architecture != "unknown":
                platforms.append(d.platform.to_json())
    elif isinstance(parsed, Manifest):
        config = json.loads(client.read_blob(ref.path, parsed.config.digest))
        p = {"architecture": config.get("architecture", ""), "os": config.get("os", "")}
        if config.get("variant"):
            p["variant"] = config["variant"]
        platforms.append(p)
    return {
        "Descriptor": {
            "mediaType": fetched.media_type,
            "digest": fetched.digest,
            "size": len(fetched.body),
        },
        "Platforms": platforms,
    }


def search(session: Session, term: str, limit: int = 25) -> list[dict[str, Any]]:
    """Docker's search results: a term may start with a registry host (`host:5000/term`)."""
    if not term:
        raise errors.InvalidArgument("search term must not be empty")
    domain, query = HUB_SEARCH, term
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, query = first, rest
    if domain == HUB_SEARCH:
        from berth.distribution.client import RegistryClient
        from berth.distribution.registry import Endpoint

        # Docker Hub's search lives on its index host, not on the registry API host.
        client = RegistryClient(
            Endpoint(HUB_SEARCH), session.credentials(HUB_DOMAIN), pool=session.pool
        )
        return client.search(query, limit)
    client = session.client(domain)
    results = client.search(query, limit)
    for r in results:
        if not str(r.get("name", "")).startswith(domain + "/"):
            r["name"] = f"{domain}/{r['name']}"
    return results


def login(session: Session, server: str, credential: Credential) -> dict[str, str]:
    """Check a credential against a registry (`POST /auth`); Unauthorized if refused."""
    domain = _domain_of(server)
    from berth.distribution.client import RegistryClient
    from berth.distribution.registry import endpoints

    ep = endpoints(domain, session.options)[-1]
    client = RegistryClient(ep, credential, pool=session.pool)
    try:
        client.check_login()
    except errors.Unauthorized as e:
        raise errors.Unauthorized(
            f"login attempt to {server} failed with status: 401 Unauthorized ({e})"
        ) from None
    return {"Status": "Login Succeeded", "IdentityToken": ""}


def _domain_of(server: str) -> str:
    if not server or server.rstrip("/") in (HUB_KEY.rstrip("/"), "index.docker.io", HUB_DOMAIN):
        return HUB_DOMAIN
    host = server.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return HUB_DOMAIN if host in ("index.docker.io", "registry-1.docker.io") else host

"""The registry client: the distribution API for one registry endpoint.

`RegistryClient(endpoint, credential)` pings the registry once (choosing https
or, for insecure registries, plain http, and learning its auth challenge),
then offers the operations pull and push are made of: manifests by tag or
digest, blobs streamed with digest verification and Range resume, existence
checks, uploads (monolithic or chunked), cross-repository mounts, manifest
puts, tag lists, the catalog and search. Every failure is a `berth.errors`
kind whose message carries the registry's own error code and text
("manifest unknown", "unauthorized", ...).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from berth import errors
from berth.distribution.auth import Authenticator
from berth.distribution.credentials import Credential
from berth.distribution.registry import Endpoint
from berth.distribution.transport import Pool, Response

log = logging.getLogger(__name__)

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
MAX_MANIFEST = 4 * 1024 * 1024
BUF = 1 << 20
RETRIES = 5
USER_AGENT = "berth/0.1"


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    body: bytes
    media_type: str
    digest: str


@dataclass(frozen=True, slots=True)
class RemoteDescriptor:
    media_type: str
    digest: str
    size: int


class RegistryClient:
    """Requests to one registry endpoint with one credential; thread-safe."""

    def __init__(
        self,
        endpoint: Endpoint,
        credential: Credential | None = None,
        *,
        pool: Pool | None = None,
        ca_file: str | None = None,
        retries: int = RETRIES,
    ) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.pool = pool or Pool(ca_file=ca_file)
        self.auth = Authenticator(self.pool, credential or Credential(), verify_tls=endpoint.secure)
        self.base = ""
        self._pinged = False

    # ---- connection and auth ---------------------------------------------------
    def ping(self) -> None:
        """GET /v2/ to choose the scheme and learn the auth challenge."""
        if self._pinged:
            return
        last: Exception | None = None
        for scheme in self.endpoint.schemes:
            base = f"{scheme}://{self.endpoint.host}"
            try:
                resp = self.pool.request(
                    "GET", f"{base}/v2/", {"User-Agent": USER_AGENT}, verify=self.endpoint.secure
                )
            except (errors.Unavailable, ssl.SSLError) as e:
                last = e
                continue
            resp.read()
            if resp.status == 401:
                self.auth.learn(resp.header("WWW-Authenticate"))
            elif resp.status >= 500 or resp.status == 404:
                last = errors.Unavailable(
                    f"registry {self.endpoint.host} answered {resp.status} on /v2/"
                )
                continue
            self.base = base
            self._pinged = True
            return
        raise errors.Unavailable(f"cannot reach registry {self.endpoint.host}: {last}")

    def check_login(self) -> None:
        """Verify the credential against /v2/ (for `login`); Unauthorized if refused."""
        self.ping()
        resp = self._request("GET", "/v2/", scope="", ok=(200,))
        resp.read()

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        body: object = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
    ) -> Response:
        """One request with auth; a 401 re-learns the challenge and retries once."""
        self.ping()
        url = path if "://" in path else self.base + path
        for attempt in (0, 1):
            h = {"User-Agent": USER_AGENT, **(headers or {})}
            auth = self.auth.header(scope)
            if auth:
                h["Authorization"] = auth
            resp = self.pool.request(method, url, h, body, verify=self.endpoint.secure)
            if resp.status == 401 and attempt == 0 and _rewindable(body):
                text = resp.read()
                before = self.auth.challenge
                challenge = self.auth.learn(resp.header("WWW-Authenticate"))
                if challenge is None or (
                    before is not None and challenge.scheme == "basic" and auth
                ):
                    raise _error(401, text, what or path)
                continue
            if resp.status in ok:
                return resp
            text = resp.read()
            raise _error(resp.status, text, what or path)
        raise AssertionError("unreachable")

    # ---- manifests -------------------------------------------------------------
    def get_manifest(
        self, repo: str, reference: str, accept: str = MANIFEST_ACCEPT, *, display: str = ""
    ) -> FetchedManifest:
        """A manifest or index by tag or digest, its digest verified.

        `display` names the image in errors ("manifest for busybox:x not found").
        """
        what = display or (f"{repo}:{reference}" if ":" not in reference else f"{repo}@{reference}")
        resp = self._request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scope=_scope(repo, "pull"),
            headers={"Accept": accept},
            what=f"manifest for {what}",
        )
        length = int(resp.header("Content-Length") or 0)
        if length > MAX_MANIFEST:
            resp.close()
            raise errors.InvalidArgument(f"manifest for {what} is too large ({length} bytes)")
        body = resp.read()
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
        if reference.startswith("sha") and ":" in reference:
            algo = reference.split(":", 1)[0]
            actual = f"{algo}:" + hashlib.new(algo, body).hexdigest()
            if actual != reference:
                raise errors.InvalidArgument(
                    f"manifest verification failed for {what}: digest {actual} does not match"
                )
            digest = reference
        else:
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            header = resp.header("Docker-Content-Digest")
            if header and header.startswith("sha256:") and header != digest:
                raise errors.InvalidArgument(
                    f"manifest verification failed for {what}: content digest {digest} "
                    f"does not match the registry's {header}"
                )
        try:
            doc = json.loads(body)
        except ValueError:
            raise errors.InvalidArgument(f"malformed manifest for {what}: not JSON") from None
        if not isinstance(doc, dict):
            raise errors.InvalidArgument(f"malformed manifest for {what}: not an object")
        if doc.get("mediaType"):
            media_type = doc["mediaType"]
        elif media_type in ("", "application/json", "text/plain", "application/octet-stream"):
            media_type = (
                "application/vnd.oci.image.index.v1+json"
                if "manifests" in doc
                else "application/vnd.oci.image.manifest.v1+json"
            )
        return FetchedManifest(body, media_type, digest)

    def head_manifest(self, repo: str, reference: str) -> RemoteDescriptor:
        resp = self._request(
            "HEAD",
            f"/v2/{repo}/manifests/{reference}",
            scope=_scope(repo, "pull"),
            headers={"Accept": MANIFEST_ACCEPT},
            what=f"manifest for {repo}:{reference}",
        )
        resp.read()
        digest = resp.header("Docker-Content-Digest") or ""
        if not digest:
            return self._descriptor_by_get(repo, reference)
        return RemoteDescriptor(
            (resp.header("Content-Type") or "").split(";")[0],
            digest,
            int(resp.header("Content-Length") or 0),
        )

    def _descriptor_by_get(self, repo: str, reference: str) -> RemoteDescriptor:
        m = self.get_manifest(repo, reference)
        return RemoteDescriptor(m.media_type, m.digest, len(m.body))

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest under a tag or its digest; returns its digest."""
        resp = self._request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scope=_scope(repo, "pull,push"),
            headers={"Content-Type": media_type},
            body=body,
            ok=(201, 200, 202),
            what=f"manifest {repo}:{reference}",
        )
        resp.read()
        return resp.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()

    def delete_manifest(self, repo: str, digest: str) -> None:
        self._request(
            "DELETE", f"/v2/{repo}/manifests/{digest}", scope=_scope(repo, "delete"), ok=(202, 200)
        ).read()

    # ---- blobs -----------------------------------------------------------------
    def blob_size(self, repo: str, digest: str) -> int | None:
        """The blob's size if the repository has it, else None."""
        try:
            resp = self._request(
                "HEAD",
                f"/v2/{repo}/blobs/{digest}",
                scope=_scope(repo, "pull"),
                what=f"blob {digest}",
            )
        except errors.NotFound:
            return None
        resp.read()
        return int(resp.header("Content-Length") or 0)

    def read_blob(self, repo: str, digest: str, limit: int = 64 << 20) -> bytes:
        """A small blob (a config) in memory, verified."""
        chunks: list[bytes] = []
        self.fetch_blob(repo, digest, lambda b: chunks.append(bytes(b)), limit=limit)
        return b"".join(chunks)

    def fetch_blob(
        self,
        repo: str,
        digest: str,
        write: Callable[[memoryview], object],
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        limit: int | None = None,
        verify: bool = True,
    ) -> int:
        """Stream a blob into `write`; resume with Range after a broken connection.

        The digest is checked at the end (InvalidArgument on mismatch: the caller
        must discard what it wrote). Returns the number of bytes.
        """
        algo = digest.split(":", 1)[0]
        hasher = hashlib.new(algo) if verify else None
        received = 0
        attempt = 0
        buf = bytearray(BUF)
        view = memoryview(buf)
        while True:
            headers = {"Range": f"bytes={received}-"} if received else {}
            try:
                resp = self._request(
                    "GET",
                    f"/v2/{repo}/blobs/{digest}",
                    scope=_scope(repo, "pull"),
                    headers=headers,
                    ok=(200, 206),
                    what=f"blob {digest}",
                )
            except errors.Unavailable as e:
                attempt = _backoff(attempt, e, digest, self.retries)
                continue
            # A server that ignores Range resends from zero: skip what we have.
            skip = received if resp.status == 200 else 0
            if skip:
                received = 0
            total = _total_length(resp, received)
            if limit is not None and total is not None and total > limit:
                resp.close()
                raise errors.InvalidArgument(f"blob {digest} is larger than {limit} bytes")
            try:
                while True:
                    n = resp.readinto(view)
                    if not n:
                        break
                    chunk = view[:n]
                    if skip:
                        drop = min(skip, n)
                        skip -= drop
                        received += drop
                        chunk = chunk[drop:]
                        if not len(chunk):
                            continue
                        n = len(chunk)
                    if hasher is not None:
                        hasher.update(chunk)
                    write(chunk)
                    received += n
                    if progress is not None:
                        progress(received)
                    if size is not None and received > size:
                        raise errors.InvalidArgument(
                            f"blob {digest} is larger than its {size} bytes"
                        )
                    if limit is not None and received > limit:
                        raise errors.InvalidArgument(f"blob {digest} is larger than {limit} bytes")
            except (OSError, http.client.HTTPException) as e:
                resp._discard()
                if size is not None and received >= size:
                    break
                attempt = _backoff(attempt, e, digest, self.retries)
                continue
            resp.close()
            expected = size if size is not None else total
            if expected is not None and received < expected:
                attempt = _backoff(
                    attempt, EOFError(f"short read {received}/{expected}"), digest, self.retries
                )
                continue
            break
        if size is not None and received != size:
            raise errors.InvalidArgument(f"blob {digest}: expected {size} bytes, got {received}")
        if hasher is not None:
            actual = f"{algo}:{hasher.hexdigest()}"
            if actual != digest:
                raise errors.InvalidArgument(f"digest mismatch for blob {digest}: got {actual}")
        return received

    # ---- uploads ---------------------------------------------------------------
    def mount_blob(self, repo: str, digest: str, source: str) -> bool:
        """Cross-repository mount; False when the registry started an upload instead."""
        q = urlencode({"mount": digest, "from": source})
        scope = f"{_scope(repo, 'pull,push')} {_scope(source, 'pull')}"
        resp = self._request(
            "POST",
            f"/v2/{repo}/blobs/uploads/?{q}",
            scope=scope,
            ok=(201, 202),
            what=f"mount {digest}",
        )
        resp.read()
        if resp.status == 201:
            return True
        location = resp.header("Location")
        if location:
            self._cancel(repo, location)
        return False

    def _cancel(self, repo: str, location: str) -> None:
        try:
            self._request(
                "DELETE",
                self._abs(location),
                scope=_scope(repo, "pull,push"),
                ok=(204, 200, 202, 404),
            ).read()
        except errors.BerthError:
            pass

    def _abs(self, location: str) -> str:
        return urljoin(self.base + "/", location)

    def upload_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        opener: Callable[[], BinaryIO],
        *,
        chunk_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Upload a blob: one PUT (monolithic) or PATCHes of `chunk_size` then PUT."""
        scope = _scope(repo, "pull,push")
        resp = self._request(
            "POST", f"/v2/{repo}/blobs/uploads/", scope=scope, ok=(202,), what=f"upload {digest}"
        )
        resp.read()
        location = resp.header("Location")
        if not location:
            raise errors.Unavailable(f"registry gave no upload location for {repo}")
        location = self._abs(location)
        with opener() as f:
            if chunk_size:
                offset = 0
                while offset < size:
                    data = f.read(min(chunk_size, size - offset))
                    if not data:
                        raise errors.InternalError(f"blob {digest} is shorter than {size} bytes")
                    resp = self._request(
                        "PATCH",
                        location,
                        scope=scope,
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"{offset}-{offset + len(data) - 1}",
                            "Content-Length": str(len(data)),
                        },
                        body=data,
                        ok=(202,),
                        what=f"upload {digest}",
                    )
                    resp.read()
                    location = self._abs(resp.header("Location") or location)
                    offset += len(data)
                    if progress:
                        progress(offset)
                body: object = b""
                length = 0
            else:
                body = _Progress(f, progress) if progress else f
                length = size
            resp = self._request(
                "PUT",
                _with_query(location, {"digest": digest}),
                scope=scope,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(length)},
                body=body,
                ok=(201, 204),
                what=f"upload {digest}",
            )
            resp.read()

    # ---- listings --------------------------------------------------------------
    def tags(self, repo: str, page: int = 1000) -> list[str]:
        return list(
            self._paged(f"/v2/{repo}/tags/list?n={page}", "tags", _scope(repo, "pull"), repo)
        )

    def catalog(self, page: int = 1000) -> list[str]:
        return list(
            self._paged(f"/v2/_catalog?n={page}", "repositories", "registry:catalog:*", "catalog")
        )

    def _paged(self, path: str, key: str, scope: str, what: str) -> Iterator[str]:
        while path:
            resp = self._request("GET", path, scope=scope, what=what)
            doc = json.loads(resp.read() or b"{}")
            yield from doc.get(key) or []
            link = resp.header("Link")
            m = re.match(r"\s*<([^>]+)>", link or "")
            path = m.group(1) if m else ""
            if path and "://" in path:
                parts = urlsplit(path)
                path = parts.path + (f"?{parts.query}" if parts.query else "")

    def search(self, term: str, limit: int = 25) -> list[dict]:
        """`/v1/search` where the registry has it, else its catalog filtered by `term`."""
        try:
            resp = self._request(
                "GET", f"/v1/search?{urlencode({'q': term, 'n': limit})}", scope="", what="search"
            )
            doc = json.loads(resp.read())
            return list(doc.get("results") or [])[:limit]
        except (errors.NotFound, errors.NotImplementedYet, errors.InvalidArgument, ValueError):
            pass
        found = [r for r in self.catalog() if term.lower() in r.lower()]
        return [
            {
                "name": name,
                "description": "",
                "star_count": 0,
                "is_official": False,
                "is_automated": False,
            }
            for name in found[:limit]
        ]


class _Progress:
    """A file wrapper that reports bytes read (for upload progress)."""

    def __init__(self, f: BinaryIO, progress: Callable[[int], None]) -> None:
        self._f, self._progress, self._n = f, progress, 0

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._n += len(data)
        self._progress(self._n)
        return data


def _scope(repo: str, actions: str) -> str:
    return f"repository:{repo}:{actions}"


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _rewindable(body: object) -> bool:
    return body is None or isinstance(body, bytes | bytearray)


def _total_length(resp: Response, received: int) -> int | None:
    cr = resp.header("Content-Range")
    if cr and "/" in cr:
        total = cr.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    length = resp.header("Content-Length")
    return received + int(length) if length and length.isdigit() else None


def _backoff(attempt: int, error: Exception, digest: str, retries: int) -> int:
    attempt += 1
    if attempt > retries:
        raise errors.Unavailable(f"download of {digest} failed after {retries} retries: {error}")
    log.warning("download of %s broke (%s); retry %d", digest, error, attempt)
    time.sleep(min(0.1 * 2**attempt, 2.0))
    return attempt


def _error(status: int, body: bytes, what: str) -> errors.BerthError:
    """Map a registry error response to a berth error with the registry's words."""
    detail = ""
    code = ""
    try:
        doc = json.loads(body)
        first = (doc.get("errors") or [{}])[0]
        code = str(first.get("code", "")).lower().replace("_", " ")
        message = str(first.get("message", ""))
        detail = f"{code}: {message}" if message and message.lower() != code else code
    except (ValueError, AttributeError, IndexError):
        detail = body.decode(errors="replace").strip()[:200]
    if status == 401:
        return errors.Unauthorized(f"{what}: unauthorized: {detail or 'authentication required'}")
    if status == 403:
        return errors.Forbidden(
            f"{what}: denied: {detail or 'requested access to the resource is denied'}"
        )
    if status == 404:
        if code == "manifest unknown" or what.startswith("manifest"):
            return errors.NotFound(f"{what} not found: {detail or 'manifest unknown'}")
        return errors.NotFound(f"{what}: {detail or 'not found'}")
    if status == 405:
        return errors.NotImplementedYet(f"{what}: {detail or 'unsupported by the registry'}")
    if status == 429:
        return errors.Unavailable(f"{what}: toomanyrequests: {detail}")
    if status >= 500:
        return errors.Unavailable(f"{what}: registry error {status}: {detail}")
    return errors.InvalidArgument(f"{what}: {detail or f'registry answered {status}'}")

"""The registry's HTTP side: routes of the distribution spec over `Store`.

A threaded stdlib HTTP/1.1 server with keep-alive. Blob bodies go out with
`socket.sendfile` (zero copy on plain TCP) and come in through large
`readinto` buffers, hashed as they arrive. Each route is a small method that
parses, calls the store and writes the answer; every refusal is a
`RegistryError` turned into the spec's JSON error body, and a request whose
body was not read closes its connection so the stream stays in sync.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from berth.distribution.server.errors import RegistryError
from berth.distribution.server.htpasswd import Htpasswd
from berth.distribution.server.manifests import OCI_INDEX, check_manifest
from berth.distribution.server.names import UUID_RE, valid_digest, valid_name, valid_tag
from berth.distribution.server.store import MAX_MANIFEST, Store

log = logging.getLogger(__name__)

BUF = 1 << 20
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")

_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"/v2/?"), "base"),
    (re.compile(r"/v2/_catalog"), "catalog"),
    (re.compile(r"/v2/(?P<name>.+)/tags/list"), "tags"),
    (re.compile(r"/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)"), "manifest"),
    (re.compile(r"/v2/(?P<name>.+)/blobs/uploads/?"), "uploads"),
    (re.compile(r"/v2/(?P<name>.+)/blobs/uploads/(?P<upload>[^/]+)"), "upload"),
    (re.compile(r"/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)"), "blob"),
    (re.compile(r"/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)"), "referrers"),
]


@dataclass(slots=True)
class TLSFiles:
    cert: Path
    key: Path


@dataclass(slots=True)
class ServerStats:
    """Counters a test or benchmark reads: bytes of blob content sent."""

    blob_bytes_sent: int = 0
    blob_gets: int = 0

    def add(self, n: int, count: bool = True) -> None:
        with _STATS_LOCK:
            self.blob_bytes_sent += n
            self.blob_gets += int(count)


_STATS_LOCK = threading.Lock()


class RegistryServer(ThreadingHTTPServer):
    """One registry: a store, optional htpasswd auth, optional TLS."""

    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        root: Path,
        addr: tuple[str, int],
        htpasswd: Path | None = None,
        tls: TLSFiles | None = None,
    ) -> None:
        self.store = Store(Path(root))
        self.auth = Htpasswd(htpasswd) if htpasswd else None
        self.stats = ServerStats()
        self.scheme = "https" if tls else "http"
        self.tls_context: ssl.SSLContext | None = None
        if tls is not None:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(str(tls.cert), str(tls.key))
        super().__init__(addr, _Handler)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-registry"
    rbufsize = BUF
    server: RegistryServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.tls_context is not None:
            # The handshake happens here, in the connection's thread, not in accept().
            self.request = self.server.tls_context.wrap_socket(self.request, server_side=True)
        super().setup()

    # ---- dispatch ----------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self._body_left = self._declared_body()
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if (
                self.server.auth is not None
                and self.server.auth.check(self.headers.get("Authorization")) is None
            ):
                raise RegistryError("UNAUTHORIZED", "authentication required")
            route, m = _route(url.path)
            args = m.groupdict()
            if "name" in args and not valid_name(args["name"]):
                raise RegistryError("NAME_INVALID", f"invalid repository name: {args['name']}")
            if "upload" in args and not UUID_RE.fullmatch(args["upload"]):
                raise RegistryError(
                    "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", args["upload"]
                )
            handler = getattr(self, f"{route}_{method.lower()}", None)
            if handler is None:
                raise RegistryError("UNSUPPORTED", f"{method} is not supported on {url.path}")
            handler(**args)
        except RegistryError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("registry: %s %s failed", method, self.path)
            self._error(RegistryError("UNKNOWN", "internal error", status=500))

    # ---- body I/O ----------------------------------------------------------
    def _declared_body(self) -> int | None:
        """Bytes of body still to read; None means chunked, 0 means none."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        try:
            return int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return 0

    def _body(self) -> Iterator[bytes]:
        """The request body in pieces of up to BUF bytes (Content-Length or chunked)."""
        rfile = self.rfile
        if self._body_left is None:
            while True:
                line = rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self._body_left = 0
                    return
                while size:
                    piece = rfile.read(min(size, BUF))
                    if not piece:
                        raise ConnectionResetError("client closed mid-chunk")
                    size -= len(piece)
                    yield piece
                rfile.readline(16)
        buf = bytearray(BUF)
        view = memoryview(buf)
        while self._body_left:
            n = rfile.readinto(view[: min(self._body_left, BUF)])
            if not n:
                raise ConnectionResetError("client closed mid-body")
            self._body_left -= n
            yield bytes(view[:n])

    def _read_all(self, limit: int) -> bytes:
        out = bytearray()
        for piece in self._body():
            out += piece
            if len(out) > limit:
                raise RegistryError("SIZE_INVALID", f"body larger than {limit} bytes")
        return bytes(out)

    # ---- responses ---------------------------------------------------------
    def _start(self, status: int, headers: dict[str, str], length: int = 0) -> None:
        self.send_response(status)
        self.send_header(*API_VERSION)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        if self._body_left != 0:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self._start(status, headers or {}, len(body))
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self._send(status, {"Content-Type": "application/json", **(headers or {})}, body)

    def _error(self, e: RegistryError) -> None:
        headers = {"Content-Type": "application/json"}
        if e.code == "UNAUTHORIZED":
            headers["WWW-Authenticate"] = 'Basic realm="berth-registry"'
        if e.code == "RANGE_INVALID" and isinstance(e.detail, dict) and "size" in e.detail:
            size = e.detail["size"]
            headers["Range"] = f"0-{max(size - 1, 0)}"
        body = json.dumps(e.body()).encode()
        self._start(e.status, headers, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(
        self, path: Path, status: int, headers: dict[str, str], start: int, length: int
    ) -> None:
        with open(path, "rb") as f:
            self._start(status, headers, length)
            if self.command == "HEAD" or length == 0:
                return
            self.wfile.flush()
            # Counted before sending, so a reader of the stats who has the whole
            # body never sees it missing; corrected if the send falls short.
            self.server.stats.add(length)
            sent = self.connection.sendfile(f, start, length)
            if sent != length:
                self.server.stats.add(sent - length, count=False)
                self.close_connection = True

    # ---- routes: base, catalog, tags ---------------------------------------
    def base_get(self) -> None:
        self._json(200, {})

    base_head = base_get

    def _page(self) -> tuple[int | None, str]:
        n = self.query.get("n")
        if n is not None:
            if not n.isdigit():
                raise RegistryError("PAGINATION_NUMBER_INVALID", f"invalid page size n={n}")
            return int(n), self.query.get("last", "")
        return None, self.query.get("last", "")

    def _paginate(self, items: list[str], path: str, key: str, extra: dict) -> None:
        n, last = self._page()
        if last:
            items = [i for i in items if i > last]
        headers = {}
        if n is not None and len(items) > n:
            items = items[:n]
            headers["Link"] = f'<{path}?n={n}&last={quote(items[-1]) if items else ""}>; rel="next"'
        self._json(200, {**extra, key: items}, headers)

    def catalog_get(self) -> None:
        self._paginate(self.server.store.repositories(), "/v2/_catalog", "repositories", {})

    def tags_get(self, name: str) -> None:
        tags = self.server.store.tags(name)
        self._paginate(tags, f"/v2/{name}/tags/list", "tags", {"name": name})

    # ---- routes: manifests -------------------------------------------------
    def _check_ref(self, ref: str) -> None:
        if ":" in ref:
            if not valid_digest(ref):
                raise RegistryError("DIGEST_INVALID", f"invalid digest: {ref}", ref)
        elif not valid_tag(ref):
            raise RegistryError("TAG_INVALID", f"invalid tag: {ref}", ref)

    def manifest_get(self, name: str, ref: str) -> None:
        self._check_ref(ref)
        record = self.server.store.get_manifest(name, ref)
        headers = {
            "Content-Type": record.media_type,
            "Docker-Content-Digest": record.digest,
            "Etag": f'"{record.digest}"',
        }
        with open(record.path, "rb") as f:
            body = f.read()
        self._start(200, headers, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    manifest_head = manifest_get

    def manifest_put(self, name: str, ref: str) -> None:
        self._check_ref(ref)
        body = self._read_all(MAX_MANIFEST)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ":" in ref and ref != digest:
            algo = ref.split(":", 1)[0]
            digest = f"{algo}:" + hashlib.new(algo, body).hexdigest()
            if digest != ref:
                raise RegistryError(
                    "DIGEST_INVALID", f"manifest digest {digest} does not match {ref}", ref
                )
        checked = check_manifest(body, self.headers.get("Content-Type"))
        store = self.server.store
        for child in checked.children:
            if not store.has_manifest(name, child):
                raise RegistryError(
                    "MANIFEST_BLOB_UNKNOWN", f"manifest unknown to repository: {child}", child
                )
        tag = None if ":" in ref else ref
        store.put_manifest(
            name, digest, body, checked.media_type, checked.blobs, tag, checked.subject
        )
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        if checked.subject:
            headers["OCI-Subject"] = checked.subject
        self._send(201, headers)

    def manifest_delete(self, name: str, ref: str) -> None:
        self._check_ref(ref)
        self.server.store.delete_manifest(name, ref)
        self._send(202)

    # ---- routes: blobs -----------------------------------------------------
    def _digest(self, digest: str) -> str:
        if not valid_digest(digest):
            raise RegistryError("DIGEST_INVALID", f"invalid digest: {digest}", digest)
        return digest

    def blob_get(self, name: str, digest: str) -> None:
        path = self.server.store.blob_in_repo(name, self._digest(digest))
        size = path.stat().st_size
        headers = {
            "Content-Type": "application/octet-stream",
            "Docker-Content-Digest": digest,
            "Accept-Ranges": "bytes",
            "Etag": f'"{digest}"',
            "Cache-Control": "max-age=31536000",
        }
        rng = self.headers.get("Range")
        if rng:
            start, end = _parse_range(rng, size)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self._send_file(path, 206, headers, start, end - start + 1)
        else:
            self._send_file(path, 200, headers, 0, size)

    blob_head = blob_get

    def blob_delete(self, name: str, digest: str) -> None:
        self.server.store.delete_blob(name, self._digest(digest))
        self._send(202, {"Docker-Content-Digest": digest})

    # ---- routes: uploads ---------------------------------------------------
    def uploads_post(self, name: str) -> None:
        store = self.server.store
        mount, source = self.query.get("mount"), self.query.get("from")
        mountable = mount and source and valid_digest(mount) and valid_name(source)
        if mountable and store.mount_blob(name, mount, source):
            self._send(
                201, {"Location": f"/v2/{name}/blobs/{mount}", "Docker-Content-Digest": mount}
            )
            return
        digest = self.query.get("digest")
        if digest is not None:
            self._digest(digest)
        upload = store.start_upload(name)
        if digest is not None:
            with store.upload_lock(upload):
                store.append_upload(name, upload, self._body(), None)
                store.finish_upload(name, upload, digest)
            self._send(
                201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
            )
            return
        self._send(202, self._upload_headers(name, upload, 0))

    def _upload_headers(self, name: str, upload: str, size: int) -> dict[str, str]:
        return {
            "Location": f"/v2/{name}/blobs/uploads/{upload}",
            "Range": f"0-{max(size - 1, 0)}",
            "Docker-Upload-UUID": upload,
        }

    def _content_range(self) -> int | None:
        value = self.headers.get("Content-Range")
        if not value:
            return None
        m = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)(?:/\d+|/\*)?", value.strip())
        if not m or int(m.group(2)) < int(m.group(1)):
            raise RegistryError("RANGE_INVALID", f"invalid Content-Range {value!r}")
        start, end = int(m.group(1)), int(m.group(2))
        if self._body_left is not None and self._body_left != end - start + 1:
            raise RegistryError(
                "RANGE_INVALID", f"Content-Range {value!r} does not match Content-Length"
            )
        return start

    def upload_get(self, name: str, upload: str) -> None:
        size = self.server.store.upload_size(name, upload)
        self._send(204, self._upload_headers(name, upload, size))

    def upload_patch(self, name: str, upload: str) -> None:
        store = self.server.store
        store.upload_size(name, upload)
        start = self._content_range()
        with store.upload_lock(upload):
            size = store.append_upload(name, upload, self._body(), start)
        self._send(202, self._upload_headers(name, upload, size))

    def upload_put(self, name: str, upload: str) -> None:
        store = self.server.store
        digest = self._digest(self.query.get("digest", ""))
        store.upload_size(name, upload)
        start = self._content_range()
        with store.upload_lock(upload):
            if self._body_left != 0:
                store.append_upload(name, upload, self._body(), start)
            store.finish_upload(name, upload, digest)
        self._send(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest})

    def upload_delete(self, name: str, upload: str) -> None:
        self.server.store.cancel_upload(name, upload)
        self._send(204)

    # ---- routes: referrers -------------------------------------------------
    def referrers_get(self, name: str, digest: str) -> None:
        store = self.server.store
        self._digest(digest)
        wanted = self.query.get("artifactType")
        manifests = []
        for ref in store.referrers(name, digest):
            desc = _referrer_descriptor(store, ref)
            if wanted and desc.get("artifactType") != wanted:
                continue
            manifests.append(desc)
        headers = {"Content-Type": OCI_INDEX}
        if wanted:
            headers["OCI-Filters-Applied"] = "artifactType"
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        ).encode()
        self._send(200, headers, body)


def _route(path: str) -> tuple[str, re.Match[str]]:
    for pattern, route in _ROUTES:
        m = pattern.fullmatch(path)
        if m:
            return route, m
    raise RegistryError("NAME_UNKNOWN", f"no route for {path}", status=404)


def _referrer_descriptor(store: Store, digest: str) -> dict:
    doc = store.read_manifest_json(digest)
    desc: dict = {
        "mediaType": doc.get("mediaType", "application/vnd.oci.image.manifest.v1+json"),
        "digest": digest,
        "size": store.blob_path(digest).stat().st_size,
    }
    artifact = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
    if artifact:
        desc["artifactType"] = artifact
    if doc.get("annotations"):
        desc["annotations"] = doc["annotations"]
    return desc


def _parse_range(value: str, size: int) -> tuple[int, int]:
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise RegistryError("RANGE_INVALID", f"invalid Range {value!r}")
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:
        start, end = max(size - int(m.group(2)), 0), size - 1
    end = min(end, size - 1)
    if start > end or start >= size:
        raise RegistryError("RANGE_INVALID", f"Range {value!r} not satisfiable for {size} bytes")
    return start, end


def serve_forever(server: RegistryServer) -> None:
    """Serve until interrupted; used by `main`."""
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

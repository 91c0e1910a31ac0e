"""HTTP for the registry client: pooled keep-alive connections per origin.

Registries are plain HTTP/1.1 with big bodies, so `http.client` is enough: one
pool of idle connections per (scheme, host), a response object the caller
streams with `readinto`, and redirects followed for blob downloads (a registry
may send blobs from another host, to which credentials are not forwarded).
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from berth import errors

TIMEOUT = 60.0
BLOCK = 1 << 20
MAX_REDIRECTS = 5


@dataclass(slots=True)
class Response:
    """A response whose body has not been read yet; `close()` returns the connection."""

    status: int
    headers: http.client.HTTPMessage
    url: str
    _raw: http.client.HTTPResponse
    _conn: http.client.HTTPConnection
    _pool: Pool
    _key: tuple[str, str]
    _done: bool = field(default=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)

    def read(self) -> bytes:
        try:
            data = self._raw.read()
        except (OSError, http.client.HTTPException) as e:
            self._discard()
            raise errors.Unavailable(f"reading {self.url}: {e}") from e
        self.close()
        return data

    def readinto(self, buf: memoryview) -> int:
        return self._raw.readinto(buf)

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        if self._raw.isclosed() or self._raw.will_close:
            self._conn.close()
            return
        # Unread body: drain it only if small, else drop the connection.
        length = self._raw.length
        if length is None or length > 65536:
            self._conn.close()
            return
        try:
            self._raw.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            return
        self._pool.put(self._key, self._conn)

    def _discard(self) -> None:
        self._done = True
        self._conn.close()


class Pool:
    """Idle connections per (scheme, netloc); thread-safe."""

    def __init__(self, *, verify_tls: bool = True, ca_file: str | None = None) -> None:
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._verify = verify_tls
        self._ca_file = ca_file

    def _ssl_context(self, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self._ca_file)
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def get(self, key: tuple[str, str], verify: bool) -> http.client.HTTPConnection:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        scheme, netloc = key
        if scheme == "https":
            return http.client.HTTPSConnection(
                netloc, timeout=TIMEOUT, context=self._ssl_context(verify)
            )
        return http.client.HTTPConnection(netloc, timeout=TIMEOUT, blocksize=BLOCK)

    def put(self, key: tuple[str, str], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for c in conns:
                    c.close()
            self._idle.clear()

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes | object | None = None,
        *,
        verify: bool = True,
        follow: bool = True,
    ) -> Response:
        """Send one request; retry once on a stale pooled connection; follow redirects."""
        headers = dict(headers or {})
        origin = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(method, url, headers, body, verify)
            if follow and resp.status in (301, 302, 303, 307, 308) and resp.header("Location"):
                resp.close()
                url = urljoin(url, resp.header("Location"))
                if urlsplit(url).netloc != origin.netloc:
                    headers.pop("Authorization", None)
                if resp.status == 303:
                    method, body = "GET", None
                continue
            return resp
        raise errors.Unavailable(f"too many redirects from {origin.geturl()}")

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: object, verify: bool
    ) -> Response:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (0, 1):
            conn = self.get(key, verify)
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers)  # type: ignore[arg-type]
                raw = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if reused and attempt == 0 and _rewindable(body):
                    continue
                raise errors.Unavailable(f"{method} {url}: {e}") from e
            return Response(raw.status, raw.headers, url, raw, conn, self, key)
        raise AssertionError("unreachable")


def _rewindable(body: object) -> bool:
    return body is None or isinstance(body, bytes | bytearray)

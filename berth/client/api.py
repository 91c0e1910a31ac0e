"""`Client`: the Engine API over `wire`, with version negotiation and errors as kinds.

One object per target daemon. Each call opens a connection (a unix connect costs
microseconds; the CLI makes a handful of calls), so there is no pool to manage and
no state to share between threads except the negotiated version.
"""

from __future__ import annotations

from berth import jsoncodec
from berth.client import wire
from berth.client.environ import getenv

TYPE_CHECKING = False  # `typing` costs ~3 ms at start-up; annotations are strings anyway
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

MAX_API_VERSION = "1.43"
MIN_API_VERSION = "1.24"


def _quote(text: str) -> str:
    """Percent-encode a query value or path part (no `urllib` import)."""
    safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if ch in safe else f"%{byte:02X}")
    return "".join(out)


def quote_path(text: str) -> str:
    """Escape a name placed in a URL path (`/containers/{name}/json`)."""
    return _quote(text).replace("%2F", "/")


def encode_query(params: dict[str, Any] | None) -> str:
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):  # repeated key: names=a&names=b
            parts += [f"{_quote(key)}={_quote(str(v))}" for v in value]
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, dict):
            value = jsoncodec.dumps(value, separators=(",", ":"))
        parts.append(f"{_quote(key)}={_quote(str(value))}")
    return "?" + "&".join(parts) if parts else ""


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split(".") if x.isdigit())


def _supported_version(body: bytes) -> str | None:
    """The version in a daemon's "client version X is too new" refusal, if it is one."""
    marker = b"Maximum supported API version is "
    pos = body.find(marker)
    if pos < 0:
        return None
    tail = body[pos + len(marker) :].split(b'"')[0].split()[0].rstrip(b".")
    version = tail.decode("ascii", "replace")
    if not _version_tuple(version) or _version_tuple(version) < _version_tuple(MIN_API_VERSION):
        return None
    return version


def raise_for_status(status: int, body: bytes) -> None:
    """`berth.client.statuses.raise_for_status`, imported when a call failed:
    the error kinds' module costs every successful command ~0.3 ms to load."""
    if status >= 300:
        from berth.client import statuses

        statuses.raise_for_status(status, body)


def default_host() -> str:
    """`BERTH_HOST`, else the default socket. DOCKER_HOST is deliberately ignored."""
    return getenv("BERTH_HOST") or wire.DEFAULT_HOST


class Hijacked:
    """A connection upgraded to a raw byte stream (attach, exec start)."""

    __slots__ = ("leftover", "sock")

    def __init__(self, sock: Any, leftover: bytes) -> None:
        self.sock = sock
        self.leftover = leftover  # stream bytes that arrived with the response head

    def close_write(self) -> None:
        """Half-close: tell the container its stdin reached EOF.

        Not over TLS: Python's ssl cannot send close_notify and keep reading
        (`SSLSocket.shutdown` drops the TLS layer), so there stdin stays open.
        """
        if hasattr(self.sock, "unwrap"):
            return
        try:
            import _socket

            self.sock.shutdown(_socket.SHUT_WR)
        except (OSError, ValueError, NotImplementedError):
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Client:
    """Talks to one daemon. `version=None` negotiates on first use through `/_ping`."""

    def __init__(
        self,
        host: str | None = None,
        version: str | None = None,
        tls: wire.TLSConfig | None = None,
        timeout: float | None = None,
    ) -> None:
        self.host = host or default_host()
        self.endpoint = wire.parse_host(self.host, tls if tls is not None else wire.env_tls())
        self._version = version or getenv("BERTH_API_VERSION") or None
        self.timeout = timeout

    # -- version negotiation -------------------------------------------------

    def ping(self) -> dict[str, str]:
        """`GET /_ping`: the daemon's headers (API-Version, OSType, ...)."""
        resp = wire.send_request(self.endpoint, "GET", "/_ping", {}, timeout=self.timeout)
        try:
            body = resp.read()
            raise_for_status(resp.status, body)
            return resp.headers
        finally:
            resp.close()

    def api_version(self) -> str:
        """The version used in request paths: min(ours, the daemon's)."""
        if self._version is None:
            theirs = self.ping().get("api-version", MAX_API_VERSION)
            if _version_tuple(theirs) < _version_tuple(MAX_API_VERSION):
                self._version = theirs
            else:
                self._version = MAX_API_VERSION
        return self._version

    # -- requests ------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> wire.Response:
        """Send a request; raise the error kind for a non-2xx status; body left to read.

        `body` is JSON-encoded when it is a dict or list, sent as is when bytes,
        and sent chunked when it is an iterator of bytes (build contexts, loads).
        """
        hdrs = dict(headers or {})
        if isinstance(body, dict | list):
            body = jsoncodec.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        resend_cost = body is not None and (
            not isinstance(body, bytes | bytearray) or len(body) > 65536
        )
        if self._version is None and (method == "HEAD" or resend_cost):
            # a streamed or large body is not worth resending, and an error to
            # HEAD has no body to read the daemon's version from: ping first
            self.api_version()
        # Optimistic negotiation: try our newest version without a /_ping round
        # trip; an older daemon answers 400 "... Maximum supported API version
        # is 1.41" and the request is sent once more with that version.
        version = self._version or MAX_API_VERSION
        target = f"/v{version}{path}{encode_query(params)}"
        resp = wire.send_request(
            self.endpoint, method, target, hdrs, body, timeout=timeout or self.timeout
        )
        if resp.status >= 300:
            data = resp.read()
            resp.close()
            if self._version is None and resp.status == 400:
                theirs = _supported_version(data)
                if theirs is not None:
                    self._version = theirs
                    return self.request(method, path, params, body, hdrs, timeout)
            raise_for_status(resp.status, data)
        self._version = version
        return resp

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """Request and read the whole body: decoded JSON, or bytes, or None if empty."""
        resp = self.request(method, path, **kw)
        try:
            data = resp.read()
        finally:
            resp.close()
        if not data:
            return None
        if "json" in resp.header("content-type"):
            return jsoncodec.loads(data)
        return data

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    def head(self, path: str, **kw: Any) -> dict[str, str]:
        resp = self.request("HEAD", path, **kw)
        resp.close()
        return resp.headers

    def stream_json(self, method: str, path: str, **kw: Any) -> Iterator[dict[str, Any]]:
        """A JSON-lines (or concatenated JSON) stream: pull/push/build progress, events, stats."""
        resp = self.request(method, path, **kw)
        try:
            pending = ""
            for piece in resp.iter_raw():
                pending += piece.decode("utf-8", "replace")
                while True:
                    pending = pending.lstrip()
                    if not pending:
                        break
                    try:
                        obj, end = jsoncodec.raw_decode(pending)
                    except ValueError:
                        break
                    pending = pending[end:]
                    yield obj
        finally:
            resp.close()

    def hijack(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Hijacked:
        """POST with `Upgrade: tcp`; on 101 (or 200) hand back the raw socket."""
        headers = {"Connection": "Upgrade", "Upgrade": "tcp"}
        if isinstance(body, dict | list):
            body = jsoncodec.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        target = f"/v{self.api_version()}{path}{encode_query(params)}"
        resp = wire.send_request(self.endpoint, "POST", target, headers, body)
        if resp.status >= 300:
            data = resp.read()
            resp.close()
            raise_for_status(resp.status, data)
        return Hijacked(resp.sock, bytes(resp._buf))

    def begin(self, method: str, path: str, params: dict[str, Any] | None = None) -> Pending:
        """Send a request now and read its answer later (`wait` before `start`, no thread)."""
        target = f"/v{self.api_version()}{path}{encode_query(params)}"
        sock = wire.connect(self.endpoint)
        headers = {"Host": self.endpoint.host_header, "User-Agent": "berth-cli"}
        if method in ("POST", "PUT"):
            headers["Content-Length"] = "0"
        sock.sendall(wire.encode_head(method, target, headers))
        return Pending(sock, method)


class Pending:
    """A request already sent whose response has not been read yet."""

    __slots__ = ("method", "resp", "sock")

    def __init__(self, sock: Any, method: str) -> None:
        self.sock = sock
        self.method = method
        self.resp: wire.Response | None = None

    def wait_head(self, timeout: float = 10.0) -> None:
        """Block until the status line and headers arrive (docker's daemons send
        them at once for `wait`, so the waiter is known to be registered before
        `start`); a daemon that holds them back only costs `timeout`."""
        self.sock.settimeout(timeout)
        try:
            self.resp = wire.read_response_head(self.sock, self.method)
        except TimeoutError:
            return
        finally:
            self.sock.settimeout(None)
        if self.resp.status >= 300:
            data = self.resp.read()
            self.close()
            raise_for_status(self.resp.status, data)

    def result(self) -> Any:
        """Block for the response; decoded JSON (or None); error kinds for failures."""
        resp = self.resp or wire.read_response_head(self.sock, self.method)
        try:
            data = resp.read()
        finally:
            resp.close()
        raise_for_status(resp.status, data)
        return jsoncodec.loads(data) if data.strip() else None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

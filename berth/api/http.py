"""Requests and responses of the Engine API, and the HTTP/1.1 wire under them.

A route handler receives a `Request` (path parameters, query, a body reader)
and returns one of three response shapes:

- `Response`: a status, a body and a content type (JSON documents, tar files);
- `StreamResponse`: an iterator of byte chunks sent with chunked encoding and
  flushed one by one (events, `logs -f`, stats, progress lines);
- `HijackResponse`: the connection is taken over after the headers
  (`101 UPGRADED` when the client asked for `Upgrade: tcp`, as docker does for
  attach and exec start) and handed to a callable as a `RawStream`.

The server is the stdlib's `socketserver` with one thread per connection at a
time, taken from reused `Workers`, over a unix socket or TCP(+TLS); the request
head is read here (`Handler.parse_request`, no `email` parser);
`berth.api.app.App.serve` is called once per request.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import socketserver
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import IO, Any

from berth.errors import InvalidArgument

log = logging.getLogger(__name__)


class BodyReader:
    """The request body as a file-like object (Content-Length or chunked)."""

    def __init__(self, rfile: IO[bytes], length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and not length

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size)
        want = self._left if size < 0 else min(size, self._left)
        data = self._rfile.read(want)
        self._left -= len(data)
        if not data or self._left == 0:
            self._done = True
        return data

    def _read_chunked(self, size: int) -> bytes:
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._chunk_left == 0:
                line = self._rfile.readline(1024)
                if not line:
                    self._done = True
                    break
                try:
                    self._chunk_left = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError as exc:
                    raise InvalidArgument("malformed chunked request body") from exc
                if self._chunk_left == 0:
                    while self._rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    break
            want = self._chunk_left if size < 0 else min(self._chunk_left, size - len(out))
            data = self._rfile.read(want)
            if not data:
                self._done = True
                break
            out += data
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._rfile.readline(16)
        return bytes(out)

    def drain(self) -> bool:
        """Read what the handler left; False when the connection cannot be reused."""
        try:
            while self.read(65536):
                pass
        except (OSError, InvalidArgument):
            return False
        return True


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # Headers: .get(name) by any case
    body: BodyReader
    api_version: str
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.lower() not in ("", "0", "false", "no")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise InvalidArgument(f"invalid value for {name}: {value!r}") from exc

    def filters(self) -> dict[str, list[str]]:
        """The `filters` query parameter: {"key": ["v", ...]} or legacy {"key": {"v": true}}."""
        text = self.arg("filters")
        if not text:
            return {}
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"invalid filter: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter: not an object")
        out: dict[str, list[str]] = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                out[key] = [k for k, v in value.items() if v]
            elif isinstance(value, list):
                out[key] = [str(v) for v in value]
            else:
                raise InvalidArgument(f"invalid filter value for {key}")
        return out

    def json(self, *, required: bool = False) -> Any:
        data = self.body.read()
        if not data.strip():
            if required:
                raise InvalidArgument("request body is required")
            return {}
        try:
            return json.loads(data)
        except ValueError as exc:
            raise InvalidArgument(f"invalid JSON: {exc}") from exc

    def json_object(self) -> dict:
        body = self.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise InvalidArgument("invalid JSON: expected an object")
        return body


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


_compact = json.JSONEncoder(separators=(",", ":")).encode  # as docker's encoder writes


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, _compact(obj).encode() + b"\n", "application/json", headers or {})


def no_content(status: int = 204) -> Response:
    return Response(status, b"", None)


@dataclass
class StreamResponse:
    chunks: Iterable[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class RawStream:
    """A hijacked connection: reads what the client sends, writes raw bytes."""

    def __init__(self, sock: socket.socket, rfile: IO[bytes], wfile: IO[bytes]) -> None:
        self.sock = sock
        self.rfile = rfile
        self.wfile = wfile

    def read(self, size: int = 65536) -> bytes:
        """Bytes from the client; b"" once it closed its side."""
        try:
            return self.rfile.read1(size)  # type: ignore[attr-defined]
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def close_write(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@dataclass
class HijackResponse:
    run: Callable[[RawStream], None]
    content_type: str = "application/vnd.docker.raw-stream"


AnyResponse = Response | StreamResponse | HijackResponse


class Headers(dict):
    """Request headers by lower-cased name (the first of a repeated one wins).

    What handlers use of `http.client.HTTPMessage` (`get`), without the `email`
    parser behind it: ~0.1 ms less per request."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> Any:
        return dict.get(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


MAX_HEADERS = 100


class Handler(BaseHTTPRequestHandler):
    """One connection; each request goes to `server.app.serve(self, ...)`."""

    protocol_version = "HTTP/1.1"
    server_version = "berth"
    sys_version = ""

    def parse_request(self) -> bool:
        """The request line and headers (HTTP/1.0 and 1.1), as the stdlib's
        `parse_request` does, with a plain header reader instead of `email`."""
        self.command = None  # type: ignore[assignment]
        # errors about the request line are answered with an HTTP/1.1 status
        # line too (the stdlib answers those "HTTP/0.9" style, a bare body)
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(400, f"Bad request syntax ({requestline!r})")
            return False
        command, path, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            if version.startswith("HTTP/") and version[5:6].isdigit() and version[5:6] >= "2":
                self.send_error(505, f"Invalid HTTP version ({version[5:]})")
            else:
                self.send_error(400, f"Bad request version ({version!r})")
            return False
        self.request_version = version
        self.command, self.path = command, path
        if self.path.startswith("//"):
            self.path = "/" + self.path.lstrip("/")  # no scheme-less absolute URIs
        headers = Headers()
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(65537)
            if len(line) > 65536:
                self.send_error(431, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = (headers.get("connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        else:
            self.close_connection = version == "HTTP/1.0" and connection != "keep-alive"
        expect = (headers.get("expect") or "").lower()
        if expect == "100-continue" and version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.server.app.serve(self)  # type: ignore[attr-defined]
            self.wfile.flush()
        except (TimeoutError, ConnectionError, BrokenPipeError):
            self.close_connection = True

    def address_string(self) -> str:
        addr = self.client_address
        return addr[0] if isinstance(addr, tuple) and addr else "unix"

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    def split_target(self) -> tuple[str, dict[str, list[str]]]:
        parsed = urllib.parse.urlsplit(self.path)
        return urllib.parse.unquote(parsed.path), urllib.parse.parse_qs(
            parsed.query, keep_blank_values=True
        )

    def body_reader(self) -> BodyReader:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        length = self.headers.get("Content-Length")
        try:
            n = int(length) if length else None
        except ValueError:
            n = None
        return BodyReader(self.rfile, n, chunked)

    def write_response(self, resp: AnyResponse) -> None:
        if isinstance(resp, Response):
            self._write_plain(resp)
        elif isinstance(resp, StreamResponse):
            self._write_stream(resp)
        else:
            self._write_hijack(resp)

    def _common_headers(self, headers: dict[str, str]) -> None:
        for key, value in self.server.app.common_headers.items():  # type: ignore[attr-defined]
            self.send_header(key, value)
        for key, value in headers.items():
            self.send_header(key, value)

    def _write_plain(self, resp: Response) -> None:
        self.send_response(resp.status)
        self._common_headers(resp.headers)
        if resp.content_type and resp.status != 304:
            self.send_header("Content-Type", resp.content_type)
        if resp.status not in (204, 304):
            self.send_header("Content-Length", str(len(resp.body)))
        # head and body in one write (one syscall, one packet on TCP)
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        if resp.status not in (204, 304) and self.command != "HEAD" and resp.body:
            self._headers_buffer.append(resp.body)  # type: ignore[attr-defined]
        self.flush_headers()

    def _write_stream(self, resp: StreamResponse) -> None:
        self.send_response(resp.status)
        self._common_headers(resp.headers)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        chunks = iter(resp.chunks)
        try:
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                elif self._client_gone():  # an empty chunk is a producer's heartbeat
                    self.close_connection = True
                    return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()

    def _client_gone(self) -> bool:
        """Whether the client closed its end (readable with nothing to read)."""
        import select

        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _write_hijack(self, resp: HijackResponse) -> None:
        upgrade = "upgrade" in (self.headers.get("Connection") or "").lower()
        if upgrade:
            self.send_response_only(101, "UPGRADED")
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "tcp")
        else:
            self.send_response_only(200)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Connection", "close")
        self._common_headers({})
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            resp.run(RawStream(self.connection, self.rfile, self.wfile))
        except OSError:
            pass
        finally:
            # wakes a thread still reading the client's stdin, and tells the client
            # the stream is over (closing the buffered reader would wait for that thread)
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Workers:
    """Threads that serve one connection each, then wait for the next one.

    A thread started per connection (`socketserver.ThreadingMixIn`) cost ~0.3 ms
    of every request here (creating it, handing it the GIL), more than reading,
    routing and answering a `ps` or `inspect`. A worker that finished waits up
    to `idle` seconds for another connection; when none is free, a new one
    starts, so long-lived connections (attach, events, logs -f) never make
    others wait. The most recently idle worker is reused first.
    """

    def __init__(self, run: Callable[[Any, Any], None], idle: float = 30.0) -> None:
        self._run = run
        self._idle_seconds = idle
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []
        self.started = 0  # threads ever started (tests check the reuse)

    def submit(self, request: Any, client_address: Any) -> None:
        with self._lock:
            if self._idle:
                self._idle.pop().put((request, client_address))
                return
            self.started += 1
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(
            target=self._work, args=(inbox, (request, client_address)), daemon=True
        ).start()

    def _work(self, inbox: queue.SimpleQueue, job: tuple[Any, Any]) -> None:
        while True:
            try:
                self._run(*job)
            except Exception:  # the server's own handler already reported it
                log.exception("serving a connection failed")
            with self._lock:
                self._idle.append(inbox)
            try:
                job = inbox.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # no connection was handed over: retire
                        self._idle.remove(inbox)
                        return
                job = inbox.get()  # handed over between the timeout and the lock


class PooledMixIn(socketserver.ThreadingMixIn):
    """ThreadingMixIn's per-connection handling, on reused `Workers` threads."""

    daemon_threads = True
    block_on_close = False
    _workers: Workers | None = None

    def process_request(self, request: Any, client_address: Any) -> None:
        if self._workers is None:
            self._workers = Workers(self.process_request_thread)
        self._workers.submit(request, client_address)


class UnixServer(PooledMixIn, socketserver.UnixStreamServer):
    request_queue_size = 512  # docker clients open several connections each


class TCPServer(PooledMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 512


def iter_json_lines(items: Iterable[Any]) -> Iterator[bytes]:
    for item in items:
        yield json.dumps(item).encode() + b"\n"

"""A minimal HTTP/1.1 client over a unix or TCP (optionally TLS) socket.

Why not `http.client`: importing it (with `email` and friends) costs ~25 ms, more
than the rest of a CLI start. The Engine API needs little of HTTP: one request per
connection, bodies by Content-Length or chunked, a body read until close, and the
`Upgrade: tcp` hijack for attach and exec. This module does exactly that, on
`_socket` (the C module, imported for free) for unix sockets; `ssl` and `socket`
are imported only for TLS, and `berth.errors` only where a call fails.
"""

from __future__ import annotations

import _socket

from berth.client.environ import getenv

TYPE_CHECKING = False  # `typing` costs ~3 ms at start-up; annotations are strings anyway
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

DEFAULT_HOST = "unix:///run/berth/berth.sock"
CHUNK = 65536


class TLSConfig:
    """Client TLS settings (`--tlsverify` and friends; `*_CERT_PATH` files).

    Plain slotted classes here rather than dataclasses: `dataclasses` imports
    `inspect`, ~8 ms that every CLI start would pay.
    """

    __slots__ = ("ca", "cert", "key", "verify")

    def __init__(
        self,
        verify: bool = True,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
    ) -> None:
        self.verify, self.ca, self.cert, self.key = verify, ca, cert, key


class Endpoint:
    """Where the daemon listens: a unix path, or a TCP host and port (TLS or not)."""

    __slots__ = ("address", "port", "scheme", "tls")

    def __init__(
        self, scheme: str, address: str, port: int = 0, tls: TLSConfig | None = None
    ) -> None:
        self.scheme = scheme  # "unix" or "tcp"
        self.address = address  # unix: the socket path; tcp: the host
        self.port = port
        self.tls = tls

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Endpoint) and (
            self.scheme,
            self.address,
            self.port,
        ) == (other.scheme, other.address, other.port)

    def __repr__(self) -> str:
        return f"Endpoint({self.scheme!r}, {self.address!r}, {self.port})"

    @property
    def host_header(self) -> str:
        return "localhost" if self.scheme == "unix" else f"{self.address}:{self.port}"


def parse_host(host: str, tls: TLSConfig | None = None) -> Endpoint:
    """`unix:///p`, `/p`, `tcp://h:p`, `https://h:p`, `h:p` -> an Endpoint."""
    if host.startswith("unix://"):
        path = host[len("unix://") :]
        if not path:
            from berth import errors

            raise errors.InvalidArgument(f"invalid host {host!r}: empty socket path")
        return Endpoint("unix", path)
    if host.startswith("/"):
        return Endpoint("unix", host)
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "tcp", host
    if scheme == "https" and tls is None:
        tls = TLSConfig()
    if scheme not in ("tcp", "http", "https"):
        from berth import errors

        raise errors.InvalidArgument(f"invalid host {host!r}: unsupported scheme {scheme!r}")
    rest = rest.rstrip("/")
    name, colon, port = rest.rpartition(":")
    if not colon:
        name, port = rest, "2376" if tls else "2375"
    name = name.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        from berth import errors

        raise errors.InvalidArgument(f"invalid host {host!r}: bad port {port!r}")
    return Endpoint("tcp", name, int(port), tls)


def connect(endpoint: Endpoint, timeout: float | None = None) -> Any:
    """An open, connected socket (an `ssl.SSLSocket` for TLS endpoints)."""
    try:
        if endpoint.scheme == "unix":
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint.address)
            return sock
        import socket

        sock = socket.create_connection((endpoint.address, endpoint.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if endpoint.tls is not None:
            sock = _wrap_tls(sock, endpoint)
        return sock
    except OSError as e:
        where = (
            f"unix://{endpoint.address}"
            if endpoint.scheme == "unix"
            else f"tcp://{endpoint.address}:{endpoint.port}"
        )
        if isinstance(e, PermissionError):
            from berth import errors

            raise errors.Unavailable(
                f"permission denied while trying to connect to the berth daemon socket at {where}"
                " (is your user in the socket's group?)"
            ) from None
        from berth import errors

        raise errors.Unavailable(
            f"Cannot connect to the berth daemon at {where}. Is the berth daemon running?"
            f" ({e.strerror or e})"
        ) from None


def _wrap_tls(sock: Any, endpoint: Endpoint) -> Any:
    import ssl

    tls = endpoint.tls
    assert tls is not None
    ctx = ssl.create_default_context(cafile=tls.ca)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert:
        ctx.load_cert_chain(tls.cert, tls.key)
    return ctx.wrap_socket(sock, server_hostname=endpoint.address)


class Response:
    """A response whose body is read on demand from the socket it came on."""

    __slots__ = ("_buf", "_chunked", "_done", "_remaining", "headers", "reason", "sock", "status")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self._buf = bytearray()
        self._remaining = -1  # Content-Length left; -1 = until close
        self._chunked = False
        self._done = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def _fill(self) -> bool:
        data = self.sock.recv(CHUNK)
        if not data:
            return False
        self._buf += data
        return True

    def _readline(self) -> bytes:
        while True:
            i = self._buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 2]
                return line
            if not self._fill():
                from berth import errors

                raise errors.Unavailable("connection closed by the daemon mid-response")

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it arrives, de-chunked, without waiting for the end."""
        if self._done:
            return
        if self._chunked:
            while True:
                size = int(self._readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._readline():
                        pass
                    break
                while len(self._buf) < size + 2:
                    if not self._fill():
                        from berth import errors

                        raise errors.Unavailable("connection closed inside a chunk")
                yield bytes(self._buf[:size])
                del self._buf[: size + 2]
        elif self._remaining >= 0:
            while self._remaining > 0:
                if not self._buf and not self._fill():
                    from berth import errors

                    raise errors.Unavailable("connection closed before the end of the body")
                piece = bytes(self._buf[: self._remaining])
                del self._buf[: len(piece)]
                self._remaining -= len(piece)
                yield piece
        else:
            while True:
                if self._buf:
                    piece = bytes(self._buf)
                    self._buf.clear()
                    yield piece
                if not self._fill():
                    break
        self._done = True

    def read(self) -> bytes:
        return b"".join(self.iter_raw())

    def iter_lines(self) -> Iterator[bytes]:
        """Newline-delimited records (JSON-lines streams), as they arrive."""
        pending = b""
        for piece in self.iter_raw():
            pending += piece
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def encode_head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send_request(
    endpoint: Endpoint,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes | Iterator[bytes] | None = None,
    timeout: float | None = None,
) -> Response:
    """Send one request on a fresh connection and read the status and headers."""
    sock = connect(endpoint, timeout)
    try:
        headers = {"Host": endpoint.host_header, "User-Agent": "berth-cli", **headers}
        if isinstance(body, bytes | bytearray):
            headers["Content-Length"] = str(len(body))
            try:
                sock.sendall(encode_head(method, target, headers) + body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon answered early (an error) and stopped reading
        elif body is not None:
            headers["Transfer-Encoding"] = "chunked"
            sock.sendall(encode_head(method, target, headers))
            try:
                for piece in body:
                    if piece:
                        sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # read the early answer below
        else:
            if method in ("POST", "PUT"):
                headers["Content-Length"] = "0"
            sock.sendall(encode_head(method, target, headers))
        return read_response_head(sock, method)
    except BaseException:
        sock.close()
        raise


def read_response_head(sock: Any, method: str = "GET") -> Response:
    """Parse the status line and headers; the body stays on the socket."""
    resp = Response(sock)
    while True:
        status_line = resp._readline()
        if not status_line.startswith(b"HTTP/"):
            from berth import errors

            raise errors.InternalError(f"malformed HTTP status line from daemon: {status_line!r}")
        parts = status_line.decode("latin-1").split(" ", 2)
        resp.status = int(parts[1])
        resp.reason = parts[2] if len(parts) > 2 else ""
        resp.headers = {}
        while line := resp._readline():
            name, _, value = line.decode("latin-1").partition(":")
            resp.headers[name.strip().lower()] = value.strip()
        if resp.status != 100:
            break
    if "chunked" in resp.headers.get("transfer-encoding", "").lower():
        resp._chunked = True
    elif "content-length" in resp.headers:
        resp._remaining = int(resp.headers["content-length"])
    elif method == "HEAD" or resp.status in (204, 304) or resp.status == 101:
        resp._remaining = 0
    if method == "HEAD":
        resp._chunked, resp._remaining = False, 0
    return resp


def env_tls() -> TLSConfig | None:
    """TLS settings from BERTH_TLS_VERIFY / BERTH_CERT_PATH (DOCKER_* as fallback)."""
    verify = getenv("BERTH_TLS_VERIFY") or getenv("DOCKER_TLS_VERIFY")
    certs = getenv("BERTH_CERT_PATH") or getenv("DOCKER_CERT_PATH")
    if not verify and not certs:
        return None
    import os

    base = certs or os.path.expanduser("~/.berth")
    return TLSConfig(
        verify=bool(verify),
        ca=os.path.join(base, "ca.pem") if verify else None,
        cert=os.path.join(base, "cert.pem"),
        key=os.path.join(base, "key.pem"),
    )

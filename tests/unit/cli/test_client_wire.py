"""The hand-written HTTP/1.1 client against a real unix-socket server thread."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth import errors
from berth.client import wire
from berth.client.api import Client, encode_query
from berth.client.frames import STDERR, STDOUT, FrameReader, demux, encode_frame
from berth.client.statuses import raise_for_status


def serve(
    path: Path, respond: Callable[[bytes, socket.socket], None], count: int = 8
) -> threading.Thread:
    """Accept `count` connections; hand each full request head (+ body) to `respond`."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)

    def loop() -> None:
        with listener:
            for _ in range(count):
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    respond(head + b"\r\n\r\n" + rest, conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


PING = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "d.sock"


def test_version_negotiation_without_ping_round_trip(sock_path: Path) -> None:
    seen: list[bytes] = []

    def respond(req: bytes, conn: socket.socket) -> None:
        seen.append(req.split(b"\r\n")[0])
        if req.startswith(b"GET /v1.43/"):
            body = b'{"message":"client version 1.43 is too new. Maximum supported API version is 1.41"}'
            conn.sendall(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
        elif req.startswith(b"GET /_ping"):
            conn.sendall(PING)
        else:
            body = json.dumps([{"Id": "x"}]).encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(body)
                + body
            )

    serve(sock_path, respond)
    client = Client(f"unix://{sock_path}")
    assert client.get("/containers/json", params={"all": True}) == [{"Id": "x"}]
    assert client.api_version() == "1.41"  # the daemon's, lower than ours
    assert seen == [
        b"GET /v1.43/containers/json?all=1 HTTP/1.1",
        b"GET /v1.41/containers/json?all=1 HTTP/1.1",
    ]
    pinged = Client(f"unix://{sock_path}")
    assert pinged.api_version() == "1.41"
    assert seen[-1] == b"GET /_ping HTTP/1.1"


def test_chunked_json_stream_and_errors(sock_path: Path) -> None:
    def respond(req: bytes, conn: socket.socket) -> None:
        if req.startswith(b"GET /_ping"):
            conn.sendall(PING)
        elif b"/events" in req:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b'{"status":"a"}\n{"sta', b'tus":"b"}\n', b'{"status":"c"}'):
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")
        else:
            body = b'{"message":"No such container: web"}'
            conn.sendall(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % len(body)
                + body
            )

    serve(sock_path, respond)
    client = Client(f"unix://{sock_path}")
    assert [m["status"] for m in client.stream_json("GET", "/events")] == ["a", "b", "c"]
    with pytest.raises(errors.NotFound, match="No such container: web"):
        client.get("/containers/web/json")


def test_hijack_keeps_early_stream_bytes_and_half_closes(sock_path: Path) -> None:
    got_eof = threading.Event()

    def respond(req: bytes, conn: socket.socket) -> None:
        if req.startswith(b"GET /_ping"):
            conn.sendall(PING)
            return
        conn.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
            + encode_frame(STDOUT, b"early")
        )
        data = b""
        while chunk := conn.recv(100):
            data += chunk
        got_eof.set()
        conn.sendall(encode_frame(STDERR, data))

    serve(sock_path, respond)
    conn = Client(f"unix://{sock_path}").hijack("/containers/x/attach", params={"stdin": True})
    reader = FrameReader()
    frames = reader.feed(conn.leftover)
    conn.sock.sendall(b"typed")
    conn.close_write()
    assert got_eof.wait(5)
    while chunk := conn.sock.recv(100):
        frames += reader.feed(chunk)
    conn.close()
    assert frames == [(STDOUT, b"early"), (STDERR, b"typed")]


def test_unreachable_daemon_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(errors.Unavailable, match="Is the berth daemon running"):
        Client(f"unix://{tmp_path}/nothing.sock").ping()


def test_parse_host() -> None:
    assert wire.parse_host("unix:///run/x.sock") == wire.Endpoint("unix", "/run/x.sock")
    assert wire.parse_host("tcp://127.0.0.1:2376") == wire.Endpoint("tcp", "127.0.0.1", 2376)
    assert wire.parse_host("localhost:1234") == wire.Endpoint("tcp", "localhost", 1234)
    assert wire.parse_host("https://h:9").tls is not None
    with pytest.raises(errors.InvalidArgument):
        wire.parse_host("ssh://h")


def test_query_encoding() -> None:
    q = encode_query(
        {"names": ["a:1", "b"], "filters": {"status": {"exited": True}}, "all": False, "x": None}
    )
    assert q == "?names=a%3A1&names=b&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D&all=0"


def test_status_table() -> None:
    for status, kind in ((304, errors.NotModified), (400, errors.InvalidArgument), (409, errors.Conflict),
                         (500, errors.InternalError), (418, errors.InvalidArgument)):  # fmt: skip
        with pytest.raises(kind) as e:
            raise_for_status(status, b'{"message":"m"}')
        assert e.value.status == status and str(e.value) == "m"
    raise_for_status(204, b"")


def test_frames_roundtrip_in_pieces() -> None:
    data = (
        encode_frame(STDOUT, b"hello")
        + encode_frame(STDERR, b"")
        + encode_frame(STDOUT, b"x" * 70000)
    )
    reader = FrameReader()
    out = []
    for i in range(0, len(data), 7):
        out += reader.feed(data[i : i + 7])
    assert out == [(STDOUT, b"hello"), (STDERR, b""), (STDOUT, b"x" * 70000)]
    with pytest.raises(ValueError, match="truncated"):
        demux(data[:-1])

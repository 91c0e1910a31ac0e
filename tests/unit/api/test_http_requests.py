"""berth.api.http's own request reader (no `email` parser) on a real unix socket:
request lines, headers by any case, keep-alive and close, errors, 100-continue."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from berth.api.app import App
from berth.api.http import Handler, UnixServer, json_response
from berth.api.router import Router


def _router() -> Router:
    r = Router()

    def headers(d, req):
        return json_response(
            {
                "auth": req.headers.get("X-Registry-Auth"),
                "lower": req.headers.get("x-registry-auth"),
                "missing": req.headers.get("X-Nope"),
                "twice": req.headers.get("X-Twice"),
                "path": req.path,
                "all": req.arg("all"),
            }
        )

    r.get("/headers", headers)
    r.post("/echo", lambda d, req: json_response(req.json_object()))
    return r


@pytest.fixture
def sock_path(tmp_path: Path):
    path = str(tmp_path / "api.sock")
    server = UnixServer(path, Handler)
    server.app = App(None, _router())  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def _read_response(s: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            raise ConnectionError("closed before a response head")
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        data = s.recv(65536)
        if not data:
            break
        rest += data
    buf[:] = rest[n:]
    return status, headers, rest[:n]


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False


def test_headers_by_any_case_first_of_repeated(sock_path: str) -> None:
    s = _connect(sock_path)
    s.sendall(
        b"GET /v1.43/headers?all=1 HTTP/1.1\r\nHost: x\r\nx-registry-AUTH: abc\r\n"
        b"X-Twice: one\r\nX-Twice: two\r\nContent-Length: 0\r\n\r\n"
    )
    status, headers, body = _read_response(s, bytearray())
    assert status == 200
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc == {
        "auth": "abc",
        "lower": "abc",
        "missing": None,
        "twice": "one",
        "path": "/headers",
        "all": "1",
    }
    s.close()


def test_http11_keeps_the_connection_and_close_ends_it(sock_path: str) -> None:
    s = _connect(sock_path)
    buf = bytearray()
    for _ in range(3):
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(s, buf)[0] == 200
    s.sendall(b"GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _read_response(s, buf)[0] == 200
    s.settimeout(5)
    assert _closed(s)
    s.close()


def test_http10_closes_unless_keep_alive(sock_path: str) -> None:
    s = _connect(sock_path)
    s.sendall(b"GET /headers HTTP/1.0\r\n\r\n")
    assert _read_response(s, bytearray())[0] == 200
    assert _closed(s)
    s.close()
    s = _connect(sock_path)
    buf = bytearray()
    s.sendall(b"GET /headers HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    assert _read_response(s, buf)[0] == 200
    s.sendall(b"GET /headers HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert _read_response(s, buf)[0] == 200
    s.close()


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /headers\r\n", 400),
        (b"GET /headers HTTP/1.1 extra\r\n", 400),
        (b"GET /headers FTP/1.0\r\n", 400),
        (b"GET /headers HTTP/2.0\r\n", 505),
    ],
)
def test_bad_request_lines(sock_path: str, request_line: bytes, status: int) -> None:
    s = _connect(sock_path)
    s.sendall(request_line + b"\r\n")
    assert _read_response(s, bytearray())[0] == status
    s.close()


def test_too_many_or_too_long_headers(sock_path: str) -> None:
    s = _connect(sock_path)
    s.sendall(b"GET /headers HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)))
    s.sendall(b"\r\n")
    assert _read_response(s, bytearray())[0] == 431
    s.close()
    s = _connect(sock_path)
    s.sendall(b"GET /headers HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")
    assert _read_response(s, bytearray())[0] == 431
    s.close()


def test_expect_100_continue_then_the_body(sock_path: str) -> None:
    s = _connect(sock_path)
    body = b'{"a": [1, 2]}'
    s.sendall(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    assert bytes(buf).startswith(b"HTTP/1.1 100")
    buf[:] = bytes(buf).partition(b"\r\n\r\n")[2]
    s.sendall(body)
    status, _, answer = _read_response(s, buf)
    assert status == 200
    assert answer == b'{"a":[1,2]}\n'  # compact, as docker writes
    s.close()


# -- the worker threads behind the servers ------------------------------------


def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_workers_reuse_an_idle_thread() -> None:
    from berth.api.http import Workers

    ran: list[tuple[str, int]] = []
    workers = Workers(lambda req, addr: ran.append((req, threading.get_ident())))
    workers.submit("a", None)
    _wait_for(lambda: len(ran) == 1 and workers._idle, "the first job and an idle worker")
    workers.submit("b", None)
    _wait_for(lambda: len(ran) == 2, "the second job")
    assert [r for r, _ in ran] == ["a", "b"]
    assert ran[0][1] == ran[1][1]  # same thread
    assert workers.started == 1


def test_a_busy_worker_does_not_delay_the_next_connection() -> None:
    from berth.api.http import Workers

    release = threading.Event()
    done: list[str] = []

    def run(req, addr):
        if req == "long":
            release.wait(10)
        done.append(req)

    workers = Workers(run)
    workers.submit("long", None)
    workers.submit("short", None)
    _wait_for(lambda: "short" in done, "the short job while the long one runs")
    assert "long" not in done
    assert workers.started == 2
    release.set()
    _wait_for(lambda: "long" in done, "the long job")


def test_idle_workers_retire_and_new_ones_start() -> None:
    from berth.api.http import Workers

    threads: list[threading.Thread] = []
    workers = Workers(lambda req, addr: threads.append(threading.current_thread()), idle=0.05)
    workers.submit("a", None)
    _wait_for(lambda: threads and not threads[0].is_alive(), "the idle worker to retire")
    assert workers._idle == []
    workers.submit("b", None)
    _wait_for(lambda: len(threads) == 2, "a new worker")
    assert workers.started == 2


def test_a_failing_job_keeps_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    from berth.api.http import Workers

    ran: list[str] = []

    def run(req, addr):
        if req == "bad":
            raise RuntimeError("boom")
        ran.append(req)

    workers = Workers(run)
    workers.submit("bad", None)
    _wait_for(lambda: workers._idle, "the worker to be idle again")
    workers.submit("good", None)
    _wait_for(lambda: ran == ["good"], "the next job")
    assert workers.started == 1


def test_server_serves_many_sequential_connections(sock_path: str) -> None:
    # every request on its own connection, as the CLI does
    for _ in range(20):
        s = _connect(sock_path)
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _read_response(s, bytearray())[0] == 200
        s.close()

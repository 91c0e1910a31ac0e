"""The HTTP layer over a real unix socket, with a small daemon stand-in whose
routes exercise dispatch, versions, the error table, streams and hijack."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from pathlib import Path

import pytest

from berth.api.app import App
from berth.api.http import (
    Handler,
    HijackResponse,
    StreamResponse,
    UnixServer,
    json_response,
)
from berth.api.router import Router
from berth.errors import Conflict, NotFound, NotModified


def _router() -> Router:
    r = Router()
    r.get("/_ping", lambda d, req: json_response("OK"))
    r.get(
        "/things/{name:path}/json",
        lambda d, req: json_response({"name": req.params["name"], "v": req.api_version}),
    )
    r.post("/echo", lambda d, req: json_response(req.json_object()))
    r.get("/missing", lambda d, req: (_ for _ in ()).throw(NotFound("No such container: x")))
    r.post("/busy", lambda d, req: (_ for _ in ()).throw(Conflict("in use")))
    r.post("/same", lambda d, req: (_ for _ in ()).throw(NotModified("already")))
    r.get("/boom", lambda d, req: 1 / 0)
    r.get("/stream", lambda d, req: StreamResponse(iter([b"a\n", b"", b"b\n"])))

    def hijack(d, req):
        def run(raw):
            data = b""
            while True:
                chunk = raw.read()
                if not chunk:
                    break
                data += chunk
            raw.write(b"got:" + data)

        return HijackResponse(run)

    r.post("/hijack", hijack)
    return r


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


@pytest.fixture
def server(tmp_path: Path):
    path = str(tmp_path / "api.sock")
    srv = UnixServer(path, Handler)
    srv.app = App(object(), _router())
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield path
    finally:
        srv.shutdown()
        srv.server_close()


def _req(path: str, method: str, url: str, body: bytes | None = None):
    conn = UnixHTTPConnection(path)
    conn.request(method, url, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_versions_and_path_params(server):
    resp, data = _req(server, "GET", "/v1.41/things/library/busybox/json")
    assert resp.status == 200 and json.loads(data) == {"name": "library/busybox", "v": "1.41"}
    assert resp.getheader("Api-Version") == "1.43"
    resp, data = _req(server, "GET", "/v1.99/_ping")
    assert resp.status == 400 and b"too new" in data


def test_error_table(server):
    resp, data = _req(server, "GET", "/missing")
    assert resp.status == 404 and json.loads(data) == {"message": "No such container: x"}
    assert _req(server, "POST", "/busy")[0].status == 409
    resp, data = _req(server, "POST", "/same")
    assert resp.status == 304 and data == b""
    resp, data = _req(server, "GET", "/boom")
    assert resp.status == 500 and b"ZeroDivisionError" in data
    resp, data = _req(server, "GET", "/nowhere")
    assert resp.status == 404 and json.loads(data)["message"] == "page not found"
    assert _req(server, "DELETE", "/echo")[0].status == 405


def test_malformed_json_is_400(server):
    resp, data = _req(server, "POST", "/echo", b"{nope")
    assert resp.status == 400 and b"invalid JSON" in data
    resp, data = _req(server, "POST", "/echo", b'{"a": 1}')
    assert json.loads(data) == {"a": 1}


def test_keep_alive_and_chunked_stream(server):
    conn = UnixHTTPConnection(server)
    for _ in range(3):
        conn.request("GET", "/stream")
        resp = conn.getresponse()
        assert resp.getheader("Transfer-Encoding") == "chunked"
        assert resp.read() == b"a\nb\n"
    conn.close()


def test_hijack_upgrade(server):
    s = socket.socket(socket.AF_UNIX)
    s.connect(server)
    s.sendall(
        b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello"
    )
    s.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    assert b"application/vnd.docker.raw-stream" in head
    assert body == b"got:hello"

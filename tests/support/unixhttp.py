"""HTTP over a unix socket: how tests talk to a daemon without a client library."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def request(
    sock: str,
    method: str,
    path: str,
    body: object | bytes | None = None,
    timeout: float = 60,
    decode: bool = True,
) -> tuple[int, Any]:
    """One request; a non-bytes `body` is sent as JSON. Returns (status, the JSON
    answer), or (status, bytes) when the answer is not one JSON document or not `decode`."""
    conn = UnixConnection(sock, timeout)
    try:
        if body is None or isinstance(body, bytes):
            conn.request(method, path, body=body)
        else:
            conn.request(
                method, path, body=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    if not decode:
        return resp.status, raw
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, raw


class UnixApi:
    """`request()` for a daemon object with a `sock` (Path of its unix socket)."""

    sock: Path

    def request(
        self,
        method: str,
        path: str,
        body: object | bytes | None = None,
        timeout: float = 60,
        decode: bool = True,
    ) -> tuple[int, Any]:
        return request(str(self.sock), method, path, body, timeout, decode)

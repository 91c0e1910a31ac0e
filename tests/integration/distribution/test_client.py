"""The registry client against real registries: berth's and Debian's docker-registry."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from berth import errors
from berth.distribution.client import RegistryClient
from berth.distribution.credentials import Credential
from berth.distribution.registry import RegistryOptions, endpoints
from berth.distribution.testing import (
    DroppingProxy,
    InProcessRegistry,
    Registry,
    start_berth_registry,
    start_docker_registry,
    stop,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def client_for(host: str, credential: Credential | None = None, **kw) -> RegistryClient:
    return RegistryClient(endpoints(host, RegistryOptions())[0], credential, **kw)


def upload(c: RegistryClient, repo: str, data: bytes, chunk: int | None = None) -> str:
    d = sha(data)
    c.upload_blob(repo, d, len(data), lambda: io.BytesIO(data), chunk_size=chunk)
    return d


def image(c: RegistryClient, repo: str, tag: str, layers: list[bytes]) -> str:
    descs = [
        {
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": upload(c, repo, data),
            "size": len(data),
        }
        for data in layers
    ]
    cfg = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": upload(c, repo, cfg),
            "size": len(cfg),
        },
        "layers": descs,
    }
    return c.put_manifest(repo, tag, json.dumps(m).encode(), OCI_MANIFEST)


def test_push_and_pull_blobs_and_manifests(any_registry: Registry) -> None:
    c = client_for(any_registry.host)
    big = os.urandom(3 << 20)
    d_big = upload(c, "p/q", big, chunk=1 << 20)
    d_small = upload(c, "p/q", b"small")
    assert c.blob_size("p/q", d_big) == len(big)
    assert c.blob_size("p/q", sha(b"absent")) is None
    digest = image(c, "p/q", "v1", [big, b"small"])
    fetched = c.get_manifest("p/q", "v1")
    assert fetched.digest == digest and fetched.media_type == OCI_MANIFEST
    assert c.get_manifest("p/q", digest).body == fetched.body
    out = bytearray()
    c.fetch_blob("p/q", d_big, out.extend, size=len(big))
    assert bytes(out) == big
    assert c.read_blob("p/q", d_small) == b"small"
    assert c.tags("p/q") == ["v1"]
    assert "p/q" in c.catalog()
    assert [r["name"] for r in c.search("p/")] == ["p/q"]


def test_cross_repository_mount(any_registry: Registry) -> None:
    c = client_for(any_registry.host)
    d = upload(c, "one/src", os.urandom(5000))
    assert c.mount_blob("two/dst", d, "one/src") is True
    assert c.blob_size("two/dst", d) == 5000
    assert c.mount_blob("three/dst", sha(b"unknown"), "one/src") is False


def test_unknown_tag_and_repository(any_registry: Registry) -> None:
    c = client_for(any_registry.host)
    image(c, "k/n", "v1", [b"x"])
    with pytest.raises(errors.NotFound, match="manifest unknown"):
        c.get_manifest("k/n", "nope")
    with pytest.raises(errors.NotFound):
        c.get_manifest("never/pushed", "v1")


def test_digest_mismatch_is_detected(berth_registry: Registry) -> None:
    c = client_for(berth_registry.host)
    data = os.urandom(100_000)
    d = upload(c, "m/m", data)
    # Corrupt the registry's copy on disk: same size, other bytes.
    (berth_registry.root / "blobs" / "sha256" / d[7:]).write_bytes(os.urandom(100_000))
    with pytest.raises(errors.InvalidArgument, match="digest mismatch"):
        c.fetch_blob("m/m", d, lambda b: None, size=len(data))


@pytest.fixture
def inproc(tmp_path: Path) -> Iterator[InProcessRegistry]:
    reg = InProcessRegistry(tmp_path / "inproc")
    try:
        yield reg
    finally:
        reg.close()


def test_broken_download_resumes_with_range(inproc: InProcessRegistry) -> None:
    data = os.urandom(2 << 20)
    d = upload(client_for(inproc.host), "r/r", data)
    proxy = DroppingProxy(inproc.host, cut_after=700_000, drops=2)
    try:
        c = client_for(proxy.host)
        out = bytearray()
        c.fetch_blob("r/r", d, out.extend, size=len(data))
        assert bytes(out) == data
        assert proxy.dropped == 2 and proxy.range_requests == 2
        # Only the missing parts were sent again: one blob (and headers), not three.
        assert len(data) <= proxy.forwarded < len(data) + 10_000
    finally:
        proxy.close()


def test_download_that_always_breaks_fails_clearly(inproc: InProcessRegistry) -> None:
    data = os.urandom(1 << 20)
    d = upload(client_for(inproc.host), "r/r", data)
    proxy = DroppingProxy(inproc.host, cut_after=0, drops=-1)
    try:
        c = client_for(proxy.host, retries=2)
        with pytest.raises(errors.Unavailable, match="failed after 2 retries"):
            c.fetch_blob("r/r", d, lambda b: None, size=len(data))
    finally:
        proxy.close()


@pytest.fixture(params=["berth", "docker"])
def auth_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-cbB", str(htpasswd), "bob", "pw"], check=True, capture_output=True
    )
    if request.param == "berth":
        reg = start_berth_registry(tmp_path / "root", "--htpasswd", str(htpasswd))
    else:
        try:
            reg = start_docker_registry(tmp_path / "root", htpasswd)
        except errors.Unavailable as e:
            pytest.skip(str(e))
    try:
        yield reg
    finally:
        stop(reg.proc)


def test_basic_auth(auth_registry: Registry) -> None:
    good = client_for(auth_registry.host, Credential("bob", "pw"))
    good.check_login()
    digest = image(good, "a/u", "v1", [b"layer"])
    assert good.get_manifest("a/u", "v1").digest == digest
    with pytest.raises(errors.Unauthorized, match="unauthorized"):
        client_for(auth_registry.host, Credential("bob", "wrong")).check_login()
    with pytest.raises(errors.Unauthorized):
        client_for(auth_registry.host).get_manifest("a/u", "v1")


class _TokenFront(BaseHTTPRequestHandler):
    """A bearer-token front for a registry: /token issues, /v2/ demands Bearer."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    issued: list[str] = []

    def log_message(self, *a: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        if self.path.startswith("/token"):
            auth = self.headers.get("Authorization", "")
            if auth != "Basic " + base64.b64encode(b"tok:en").decode():
                self._reply(401, b'{"details":"bad credentials"}', {})
                return
            assert "scope=repository" in self.path or "scope" not in self.path
            token = os.urandom(8).hex()
            self.issued.append(token)
            self._reply(200, json.dumps({"token": token, "expires_in": 300}).encode(), {})
            return
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.issued:
            host = self.headers["Host"]
            challenge = (
                f'Bearer realm="http://{host}/token",service="test",scope="repository:b/t:pull"'
            )
            self._reply(
                401,
                b'{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}',
                {"WWW-Authenticate": challenge},
            )
            return
        import http.client

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream)
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "host")
        }
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self._reply(
            resp.status,
            data,
            {
                k: v
                for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            },
        )

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _handle


def test_bearer_token_auth(inproc: InProcessRegistry) -> None:
    handler = type("Front", (_TokenFront,), {"upstream": inproc.host, "issued": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        image(client_for(inproc.host), "b/t", "v1", [b"bearer layer"])
        c = client_for(host, Credential("tok", "en"))
        assert c.get_manifest("b/t", "v1").media_type == OCI_MANIFEST
        assert handler.issued, "no token was fetched"
        with pytest.raises(errors.Unauthorized, match="unauthorized"):
            client_for(host, Credential("tok", "bad")).get_manifest("b/t", "v1")
    finally:
        server.shutdown()
        server.server_close()


def test_tls_registry_on_loopback_is_used_over_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    reg = start_berth_registry(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        c = client_for(
            reg.host
        )  # loopback: insecure by default, so an unverified certificate is fine
        digest = image(c, "tls/img", "v1", [b"over tls"])
        assert c.base == f"https://{reg.host}"
        assert c.get_manifest("tls/img", "v1").digest == digest
    finally:
        stop(reg.proc)

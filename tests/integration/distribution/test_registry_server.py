"""berth's registry server over real HTTP: the distribution spec's flows and errors."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from berth.distribution.server.gc import collect
from berth.distribution.testing import Registry, start_berth_registry, stop

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class H:
    """A keep-alive HTTP client for one registry (one connection, reused)."""

    def __init__(self, reg: Registry, headers: dict[str, str] | None = None) -> None:
        self.reg = reg
        self.conn = http.client.HTTPConnection(reg.host, timeout=10)
        self.headers = headers or {}

    def __call__(self, method: str, path: str, body: bytes | None = None, **headers: str):
        h = {**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}}
        self.conn.request(method, path, body=body, headers=h)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return resp, data


def code(data: bytes) -> str:
    return json.loads(data)["errors"][0]["code"]


def push_blob(h: H, repo: str, data: bytes) -> str:
    d = sha(data)
    resp, _ = h("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data)
    assert resp.status == 201, resp.status
    return d


def push_image(
    h: H, repo: str, tag: str, layer: bytes = b"layer", subject: dict | None = None
) -> tuple[str, bytes]:
    ld = push_blob(h, repo, layer)
    cfg = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    cd = push_blob(h, repo, cfg)
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cd,
            "size": len(cfg),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": ld,
                "size": len(layer),
            }
        ],
    }
    if subject:
        m["subject"] = subject
        m["artifactType"] = "application/vnd.example.sig"
    body = json.dumps(m).encode()
    resp, _ = h("PUT", f"/v2/{repo}/manifests/{tag}", body, Content_Type=OCI_MANIFEST)
    assert resp.status == 201, resp.status
    assert resp.getheader("Docker-Content-Digest") == sha(body)
    return sha(body), body


def test_base_endpoint_and_version_header(berth_registry: Registry) -> None:
    resp, data = H(berth_registry)("GET", "/v2/")
    assert resp.status == 200
    assert resp.getheader("Docker-Distribution-API-Version") == "registry/2.0"
    assert json.loads(data) == {}


def test_monolithic_push_head_get_and_range(berth_registry: Registry) -> None:
    h = H(berth_registry)
    data = os.urandom(300_000)
    d = push_blob(h, "a/b", data)
    resp, body = h("HEAD", f"/v2/a/b/blobs/{d}")
    assert resp.status == 200 and body == b""
    assert int(resp.getheader("Content-Length")) == len(data)
    assert resp.getheader("Docker-Content-Digest") == d
    resp, body = h("GET", f"/v2/a/b/blobs/{d}")
    assert resp.status == 200 and body == data
    resp, body = h("GET", f"/v2/a/b/blobs/{d}", Range="bytes=1000-1999")
    assert resp.status == 206 and body == data[1000:2000]
    assert resp.getheader("Content-Range") == f"bytes 1000-1999/{len(data)}"
    resp, body = h("GET", f"/v2/a/b/blobs/{d}", Range="bytes=299000-")
    assert resp.status == 206 and body == data[299000:]
    # The blob is not linked into another repository.
    resp, body = h("GET", f"/v2/other/repo/blobs/{d}")
    assert resp.status == 404 and code(body) == "BLOB_UNKNOWN"


def test_chunked_upload_with_content_range_and_status(berth_registry: Registry) -> None:
    h = H(berth_registry)
    data = os.urandom(250_000)
    resp, _ = h("POST", "/v2/c/d/blobs/uploads/")
    assert resp.status == 202
    loc = resp.getheader("Location")
    assert resp.getheader("Range") == "0-0"
    resp, _ = h(
        "PATCH",
        loc,
        data[:100_000],
        Content_Range="0-99999",
        Content_Type="application/octet-stream",
    )
    assert resp.status == 202 and resp.getheader("Range") == "0-99999"
    loc = resp.getheader("Location")
    # A chunk that does not start where the upload ends: 416, state unchanged.
    resp, body = h("PATCH", loc, data[200_000:], Content_Range="200000-249999")
    assert resp.status == 416 and code(body) == "RANGE_INVALID"
    resp, _ = h("GET", loc)
    assert resp.status == 204 and resp.getheader("Range") == "0-99999"
    resp, _ = h("PATCH", loc, data[100_000:], Content_Range=f"100000-{len(data) - 1}")
    assert resp.status == 202
    resp, _ = h("PUT", f"{loc}?digest={sha(data)}")
    assert resp.status == 201
    assert resp.getheader("Location") == f"/v2/c/d/blobs/{sha(data)}"
    resp, body = h("GET", f"/v2/c/d/blobs/{sha(data)}")
    assert body == data


def test_transfer_encoding_chunked_patch_as_docker_sends_it(berth_registry: Registry) -> None:
    data = os.urandom(70_000)
    conn = http.client.HTTPConnection(berth_registry.host, timeout=10)
    conn.request("POST", "/v2/te/x/blobs/uploads/")
    resp = conn.getresponse()
    resp.read()
    loc = resp.getheader("Location")
    conn.request(
        "PATCH",
        loc,
        body=iter([data[:30_000], data[30_000:]]),
        encode_chunked=True,
        headers={"Transfer-Encoding": "chunked"},
    )
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 202 and resp.getheader("Range") == f"0-{len(data) - 1}"
    conn.request("PUT", f"{resp.getheader('Location')}?digest={sha(data)}")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201


def test_errors_use_spec_codes_and_server_keeps_serving(berth_registry: Registry) -> None:
    h = H(berth_registry)
    resp, body = h("GET", "/v2/a/b/blobs/sha256:nothex")
    assert resp.status == 400 and code(body) == "DIGEST_INVALID"
    resp, body = h("PATCH", "/v2/a/b/blobs/uploads/" + "0" * 32, b"x")
    assert resp.status == 404 and code(body) == "BLOB_UPLOAD_UNKNOWN"
    for bad in ("..", "%2e%2e", "x" * 32):
        resp, body = h("DELETE", f"/v2/a/b/blobs/uploads/{bad}")
        assert resp.status == 404 and code(body) == "BLOB_UPLOAD_UNKNOWN"
    data = b"some bytes"
    resp, body = h("POST", f"/v2/a/b/blobs/uploads/?digest={sha(b'other')}", data)
    assert resp.status == 400 and code(body) == "DIGEST_INVALID"
    d = push_blob(h, "a/b", data)
    resp, body = h("GET", f"/v2/a/b/blobs/{d}", Range="bytes=500-600")
    assert resp.status == 416 and code(body) == "RANGE_INVALID"
    resp, body = h("GET", "/v2/a/b/manifests/nope")
    assert resp.status == 404 and code(body) == "MANIFEST_UNKNOWN"
    resp, body = h("GET", "/v2/never/pushed/tags/list")
    assert resp.status == 404 and code(body) == "NAME_UNKNOWN"
    resp, body = h("GET", "/v2/UPPER/case/tags/list")
    assert resp.status == 400 and code(body) == "NAME_INVALID"
    resp, body = h("PUT", "/v2/a/b/manifests/v1", b"{not json", Content_Type=OCI_MANIFEST)
    assert resp.status == 400 and code(body) == "MANIFEST_INVALID"
    missing = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(b"nope"),
            "size": 4,
        },
        "layers": [],
    }
    resp, body = h(
        "PUT", "/v2/a/b/manifests/v1", json.dumps(missing).encode(), Content_Type=OCI_MANIFEST
    )
    assert resp.status == 400 and code(body) == "MANIFEST_BLOB_UNKNOWN"
    resp, body = h("PUT", "/v2/a/b/manifests/bad!tag", b"{}", Content_Type=OCI_MANIFEST)
    assert resp.status == 400 and code(body) == "TAG_INVALID"
    # Still serving, on the same connection too.
    resp, body = h("GET", f"/v2/a/b/blobs/{d}")
    assert resp.status == 200 and body == data


def test_manifests_tags_pagination_catalog_and_delete(berth_registry: Registry) -> None:
    h = H(berth_registry)
    digests = {}
    for i, tag in enumerate(["a1", "b2", "c3", "d4", "e5"]):
        digests[tag], _body = push_image(h, "x/y", tag, layer=f"layer{i}".encode())
    resp, data = h("GET", "/v2/x/y/manifests/c3")
    assert resp.status == 200 and resp.getheader("Content-Type") == OCI_MANIFEST
    assert sha(data) == digests["c3"] == resp.getheader("Docker-Content-Digest")
    resp, data = h("GET", f"/v2/x/y/manifests/{digests['c3']}")
    assert resp.status == 200 and sha(data) == digests["c3"]
    resp, data = h("GET", "/v2/x/y/tags/list?n=2")
    assert json.loads(data) == {"name": "x/y", "tags": ["a1", "b2"]}
    assert resp.getheader("Link") == '</v2/x/y/tags/list?n=2&last=b2>; rel="next"'
    resp, data = h("GET", "/v2/x/y/tags/list?n=2&last=b2")
    assert json.loads(data)["tags"] == ["c3", "d4"]
    resp, data = h("GET", "/v2/x/y/tags/list?n=2&last=d4")
    assert json.loads(data)["tags"] == ["e5"] and resp.getheader("Link") is None
    push_image(h, "other", "v1")
    resp, data = h("GET", "/v2/_catalog?n=1")
    assert json.loads(data) == {"repositories": ["other"]} and "last=other" in resp.getheader(
        "Link"
    )
    resp, data = h("GET", "/v2/_catalog?n=5&last=other")
    assert json.loads(data) == {"repositories": ["x/y"]}
    # Delete a tag: the manifest stays reachable by digest.
    resp, _ = h("DELETE", "/v2/x/y/manifests/a1")
    assert resp.status == 202
    assert h("GET", "/v2/x/y/manifests/a1")[0].status == 404
    assert h("GET", f"/v2/x/y/manifests/{digests['a1']}")[0].status == 200
    # Delete by digest removes the tags naming it.
    resp, _ = h("DELETE", f"/v2/x/y/manifests/{digests['b2']}")
    assert resp.status == 202
    assert h("GET", "/v2/x/y/manifests/b2")[0].status == 404
    assert json.loads(h("GET", "/v2/x/y/tags/list")[1])["tags"] == ["c3", "d4", "e5"]
    # Delete a blob from a repository.
    d = sha(b"layer4")
    assert h("DELETE", f"/v2/x/y/blobs/{d}")[0].status == 202
    assert h("HEAD", f"/v2/x/y/blobs/{d}")[0].status == 404


def test_cross_repository_mount(berth_registry: Registry) -> None:
    h = H(berth_registry)
    data = os.urandom(10_000)
    d = push_blob(h, "src/repo", data)
    resp, _ = h("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
    assert resp.status == 201 and resp.getheader("Docker-Content-Digest") == d
    assert h("GET", f"/v2/dst/repo/blobs/{d}")[1] == data
    # From a repository that lacks it: an upload session starts instead.
    resp, _ = h("POST", f"/v2/dst2/repo/blobs/uploads/?mount={d}&from=nowhere")
    assert resp.status == 202 and "/blobs/uploads/" in resp.getheader("Location")


def test_referrers_api(berth_registry: Registry) -> None:
    h = H(berth_registry)
    subject_digest, subject_body = push_image(h, "r/s", "v1")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_body)}
    ref_layer = b"signature"
    ld = push_blob(h, "r/s", ref_layer)
    cfg = b"{}"
    cd = push_blob(h, "r/s", cfg)
    m = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": ld, "size": len(ref_layer)}],
        "subject": subject,
        "annotations": {"k": "v"},
    }
    body = json.dumps(m).encode()
    resp, _ = h("PUT", f"/v2/r/s/manifests/{sha(body)}", body, Content_Type=OCI_MANIFEST)
    assert resp.status == 201 and resp.getheader("OCI-Subject") == subject_digest
    resp, data = h("GET", f"/v2/r/s/referrers/{subject_digest}")
    assert resp.status == 200
    index = json.loads(data)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert index["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": sha(body),
            "size": len(body),
            "artifactType": "application/vnd.example.sig",
            "annotations": {"k": "v"},
        }
    ]
    resp, data = h("GET", f"/v2/r/s/referrers/{subject_digest}?artifactType=other/type")
    assert (
        json.loads(data)["manifests"] == []
        and resp.getheader("OCI-Filters-Applied") == "artifactType"
    )
    resp, data = h("GET", f"/v2/r/s/referrers/{sha(b'none')}")
    assert resp.status == 200 and json.loads(data)["manifests"] == []


def test_htpasswd_basic_auth(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-cbB", str(htpasswd), "alice", "s3cret"], check=True, capture_output=True
    )
    reg = start_berth_registry(tmp_path / "root", "--htpasswd", str(htpasswd))
    try:
        resp, data = H(reg)("GET", "/v2/")
        assert resp.status == 401 and code(data) == "UNAUTHORIZED"
        assert resp.getheader("WWW-Authenticate").startswith("Basic realm=")
        bad = "Basic " + base64.b64encode(b"alice:wrong").decode()
        assert H(reg, {"Authorization": bad})("GET", "/v2/")[0].status == 401
        good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        assert H(reg, {"Authorization": good})("GET", "/v2/")[0].status == 200
    finally:
        stop(reg.proc)


def test_tls_serving(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    reg = start_berth_registry(tmp_path / "root", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        import ssl

        ctx = ssl.create_default_context(cafile=str(cert))
        conn = http.client.HTTPSConnection(reg.host, context=ctx, timeout=10)
        conn.request("GET", "/v2/")
        assert conn.getresponse().status == 200
    finally:
        stop(reg.proc)


def test_garbage_collect_keeps_referenced_and_fresh_blobs(berth_registry: Registry) -> None:
    h = H(berth_registry)
    digest, _body = push_image(h, "g/c", "v1", layer=b"kept layer")
    orphan = push_blob(h, "g/c", b"orphan old")
    fresh = push_blob(h, "g/c", b"orphan fresh")
    root = berth_registry.root
    old = time.time() - 7200
    for d in (orphan, sha(b"kept layer"), digest):
        os.utime(root / "blobs" / "sha256" / d[7:], (old, old))
    report = collect(root, grace=3600)
    assert report.removed == [orphan]
    assert h("HEAD", f"/v2/g/c/blobs/{orphan}")[0].status == 404
    assert h("HEAD", f"/v2/g/c/blobs/{fresh}")[0].status == 200
    assert h("GET", f"/v2/g/c/blobs/{sha(b'kept layer')}")[1] == b"kept layer"
    assert sha(h("GET", "/v2/g/c/manifests/v1")[1]) == digest
    # The command line does the same (dry run changes nothing).
    out = subprocess.run(
        [
            os.sys.executable,
            "-m",
            "berth.distribution.server",
            "garbage-collect",
            "--root",
            str(root),
            "--grace",
            "0",
            "--dry-run",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"would remove {fresh}" in out
    assert h("HEAD", f"/v2/g/c/blobs/{fresh}")[0].status == 200


def test_garbage_collect_through_the_berth_cli(berth_registry: Registry) -> None:
    """`berth registry garbage-collect` (the console script) collects what the
    module's command does: dry run first, then the orphan only."""
    berth = Path(os.sys.executable).parent / "berth"
    h = H(berth_registry)
    digest, _body = push_image(h, "cli/gc", "v1", layer=b"cli kept layer")
    orphan = push_blob(h, "cli/gc", b"cli orphan")
    root = berth_registry.root

    def run(*extra: str) -> str:
        argv = [str(berth), "registry", "garbage-collect", "--root", str(root), *extra]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert f"would remove {orphan}" in run("--grace", "0", "--dry-run")
    assert h("HEAD", f"/v2/cli/gc/blobs/{orphan}")[0].status == 200
    assert "1 blobs removed" in run("--grace", "0")
    assert h("HEAD", f"/v2/cli/gc/blobs/{orphan}")[0].status == 404
    assert h("GET", f"/v2/cli/gc/blobs/{sha(b'cli kept layer')}")[1] == b"cli kept layer"
    assert sha(h("GET", "/v2/cli/gc/manifests/v1")[1]) == digest


@pytest.mark.parametrize("n", ["x", "-1"])
def test_bad_pagination_number(berth_registry: Registry, n: str) -> None:
    resp, data = H(berth_registry)("GET", f"/v2/_catalog?n={n}")
    assert resp.status == 400 and code(data) == "PAGINATION_NUMBER_INVALID"


def test_garbage_collect_during_pushes_never_leaves_a_dangling_manifest(tmp_path: Path) -> None:
    """Pushes race a collector with no grace period: each push either completes with
    every blob present, or its manifest PUT is refused (MANIFEST_BLOB_UNKNOWN)."""
    import threading

    from berth.distribution.testing import InProcessRegistry

    reg = InProcessRegistry(tmp_path / "gcrace")
    stop_gc = threading.Event()
    rounds = []

    def collector() -> None:
        while not stop_gc.is_set():
            rounds.append(collect(reg.root, grace=0))
            # a breath between rounds, so that some pushes (fsynced, slower) win the race
            stop_gc.wait(0.003)

    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    accepted, refused = [], 0
    try:
        h = H(Registry(reg.host, reg.root, None, "berth"))  # type: ignore[arg-type]
        for i in range(400):  # until some pushes got through the collector
            if i >= 40 and len(accepted) >= 3:
                break
            layer = os.urandom(2000)
            ld, cd = sha(layer), sha(b"{}")
            h("POST", f"/v2/race/img/blobs/uploads/?digest={ld}", layer)
            h("POST", f"/v2/race/img/blobs/uploads/?digest={cd}", b"{}")
            m = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": 2000}],
            }).encode()  # fmt: skip
            resp, body = h("PUT", f"/v2/race/img/manifests/t{i}", m, Content_Type=OCI_MANIFEST)
            if resp.status == 201:
                accepted.append((i, ld))
            else:
                assert resp.status == 400 and code(body) == "MANIFEST_BLOB_UNKNOWN"
                refused += 1
    finally:
        stop_gc.set()
        gc_thread.join()
    try:
        assert len(rounds) > 1 and accepted
        rounds.append(collect(reg.root, grace=0))  # quiescent: must keep everything referenced
        for i, ld in accepted:
            assert h("GET", f"/v2/race/img/manifests/t{i}")[0].status == 200
            assert h("GET", f"/v2/race/img/blobs/{ld}")[0].status == 200, f"t{i} lost its layer"
            assert h("HEAD", f"/v2/race/img/blobs/{sha(b'{}')}")[0].status == 200
    finally:
        reg.close()

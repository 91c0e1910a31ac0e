"""berthd on TCP: refused without TLS unless --insecure-tcp; with --tlsverify the
docker CLI needs a client certificate signed by the daemon's CA."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import tool

DOCKER = "/usr/local/bin/docker"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _berthd(root: Path, *extra: str) -> subprocess.Popen:
    (root / "daemon.json").write_text("{}")
    return subprocess.Popen(
        [tool("berthd"), "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--config-file", str(root / "daemon.json"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


def _wait_docker(args: list[str], deadline: float = 30) -> subprocess.CompletedProcess:
    end = time.monotonic() + deadline
    while True:
        res = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=30)
        if res.returncode == 0 or time.monotonic() > end:
            return res
        time.sleep(0.1)


@pytest.fixture
def root():
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    d = Path(tempfile.mkdtemp(prefix="bdtcp-", dir="/tmp"))
    yield d
    subprocess.run(["umount", "-l", str(d / "exec" / "netns")], check=False, capture_output=True)
    subprocess.run(["rm", "-rf", str(d)], check=False)


def test_plain_tcp_is_refused_without_the_insecure_flag(root):
    proc = _berthd(root, "-H", f"tcp://127.0.0.1:{_free_port()}")
    out = _stop(proc) if proc.wait(timeout=60) is not None else ""
    assert proc.returncode != 0
    assert "refusing" in out and "without TLS" in out


def test_insecure_tcp_serves_and_warns(root):
    port = _free_port()
    proc = _berthd(root, "-H", f"tcp://127.0.0.1:{port}", "--insecure-tcp")
    try:
        res = _wait_docker(
            ["-H", f"tcp://127.0.0.1:{port}", "version", "--format", "{{.Server.APIVersion}}"]
        )
        assert res.stdout.strip() == "1.43", res.stderr
    finally:
        out = _stop(proc)
    assert "WITHOUT TLS" in out


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_tlsverify_needs_a_client_certificate(root):
    certs = root / "certs"
    certs.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=berth-test-ca", cwd=certs)  # fmt: skip
    for name, cn in (("server", "127.0.0.1"), ("client", "client")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=certs)  # fmt: skip
        ext = certs / f"{name}.ext"
        ext.write_text(
            "subjectAltName=IP:127.0.0.1\n" if name == "server" else "extendedKeyUsage=clientAuth\n"
        )
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", ext.name, cwd=certs)  # fmt: skip
    port = _free_port()
    proc = _berthd(
        root, "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
        "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"),
    )  # fmt: skip
    try:
        host = ["-H", f"tcp://127.0.0.1:{port}"]
        res = _wait_docker([*host, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                            "--tlscert", str(certs / "client.pem"), "--tlskey", str(certs / "client-key.pem"),
                            "version", "--format", "{{.Server.APIVersion}}"])  # fmt: skip
        assert res.stdout.strip() == "1.43", res.stderr
        res = subprocess.run([DOCKER, *host, "--tls", "--tlscacert", str(certs / "ca.pem"), "version"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert res.returncode != 0
    finally:
        _stop(proc)

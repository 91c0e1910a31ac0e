"""berthd on TCP: refused without TLS unless --insecure-tcp; with --tlsverify the
docker CLI needs a client certificate signed by the daemon's CA."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.berthd import Berthd, shutdown
from tests.support.poll import poll
from tests.support.ports import free_port


@pytest.fixture
def tcp_berthd():
    """Start berthd serving only `host` (with `flags`), without waiting for it; every
    daemon started is stopped and checked for leftovers afterwards."""
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    started: list[Berthd] = []

    def start(host: str, *flags: str) -> Berthd:
        d = Berthd(Path(tempfile.mkdtemp(prefix="bdtcp-", dir="/tmp")), hosts=(host,), args=flags)
        started.append(d)
        d.start(wait=False)
        return d

    try:
        yield start
    finally:
        for d in started:
            shutdown(d)


def _docker_when_up(d: Berthd, *args: str) -> subprocess.CompletedProcess:
    """`docker ARGS` against `d`, retried until it succeeds or 30 s pass; the last try."""
    tries: list[subprocess.CompletedProcess] = []
    poll(lambda: tries.append(d.docker(*args, check=False, timeout=30)) or not tries[-1].returncode,
         30, 0.1)  # fmt: skip
    return tries[-1]


def test_plain_tcp_is_refused_without_the_insecure_flag(tcp_berthd):
    d = tcp_berthd(f"tcp://127.0.0.1:{free_port()}")
    assert d.proc.wait(timeout=60) != 0
    out = d.log_tail()
    assert "refusing" in out and "without TLS" in out


def test_insecure_tcp_serves_and_warns(tcp_berthd):
    d = tcp_berthd(f"tcp://127.0.0.1:{free_port()}", "--insecure-tcp")
    res = _docker_when_up(d, "version", "--format", "{{.Server.APIVersion}}")
    assert res.stdout.strip() == "1.43", res.stderr
    d.stop()
    assert "WITHOUT TLS" in d.log_tail()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def test_tlsverify_needs_a_client_certificate(tcp_berthd, tmp_path):
    certs = tmp_path / "certs"
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
    port = free_port()
    d = tcp_berthd(
        f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
        "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem"),
    )  # fmt: skip
    res = _docker_when_up(d, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                          "--tlscert", str(certs / "client.pem"), "--tlskey", str(certs / "client-key.pem"),
                          "version", "--format", "{{.Server.APIVersion}}")  # fmt: skip
    assert res.stdout.strip() == "1.43", res.stderr
    res = d.docker(
        "--tls", "--tlscacert", str(certs / "ca.pem"), "version", check=False, timeout=30
    )
    assert res.returncode != 0

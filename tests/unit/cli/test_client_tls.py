"""The client's TLS path against a real TLS server on 127.0.0.1 with client certificates."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from berth import errors
from berth.client.api import Client
from berth.client.wire import TLSConfig


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1, and a client certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=test-ca", cwd=tmp_path)  # fmt: skip
    (tmp_path / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn in (("server", "127.0.0.1"), ("cert", "client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out",
                f"{name}.csr", "-subj", f"/CN={cn}", cwd=tmp_path)  # fmt: skip
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", *extra, cwd=tmp_path)  # fmt: skip
    return tmp_path


def tls_server(pki: Path, require_client_cert: bool) -> tuple[int, threading.Thread]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    ctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server-key.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def loop() -> None:
        with listener:
            for _ in range(2):
                raw, _ = listener.accept()
                try:
                    with ctx.wrap_socket(raw, server_side=True) as conn:
                        conn.recv(65536)
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Length: 2\r\n\r\nOK"
                        )
                except (ssl.SSLError, OSError):
                    raw.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return port, thread


def test_tls_with_client_certificate(pki: Path) -> None:
    port, _ = tls_server(pki, require_client_cert=True)
    tls = TLSConfig(
        verify=True,
        ca=str(pki / "ca.pem"),
        cert=str(pki / "cert.pem"),
        key=str(pki / "cert-key.pem"),
    )
    headers = Client(f"tcp://127.0.0.1:{port}", tls=tls).ping()
    assert headers["api-version"] == "1.43"


def test_tls_refuses_an_unknown_ca(pki: Path, tmp_path: Path) -> None:
    port, _ = tls_server(pki, require_client_cert=False)
    other = tmp_path / "other"
    other.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=other", cwd=other)  # fmt: skip
    with pytest.raises((errors.Unavailable, ssl.SSLError)):
        Client(
            f"tcp://127.0.0.1:{port}", tls=TLSConfig(verify=True, ca=str(other / "ca.pem"))
        ).ping()

"""push, pull (with progress) and run's pull-on-404 through a registry on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pexpect
import pytest

pytestmark = pytest.mark.docker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path: Path):
    """Debian's docker-registry on a random local port; address "127.0.0.1:PORT"."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry is not installed")
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/data\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "registry did not start"
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_push_pull_and_pull_on_run(engine, registry: str) -> None:
    ref = f"{registry}/cli/busybox:1"
    engine.ok("tag", "busybox", ref)
    pushed = engine.ok("push", ref)
    assert pushed.startswith(f"The push refers to repository [{registry}/cli/busybox]")
    assert "1: digest: sha256:" in pushed
    assert "[=" not in pushed  # no progress bars when stdout is not a terminal

    engine.ok("rmi", ref)
    pulled = engine.ok("pull", ref)
    assert "1: Pulling from cli/busybox" in pulled
    assert f"Status: Downloaded newer image for {ref}" in pulled or "Image is up to date" in pulled
    engine.ok("rmi", ref)
    assert engine.ok("pull", "-q", ref) == ref + "\n"
    engine.ok("rmi", ref)

    ran = engine.run("run", "--rm", ref, "echo", "pulled-and-ran")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "pulled-and-ran\n"
    assert f"Unable to find image '{ref}' locally" in ran.stderr
    engine.ok("rmi", ref)


def test_pull_progress_on_a_terminal(engine, registry: str) -> None:
    ref = f"{registry}/cli/tty:1"
    engine.ok("tag", "busybox", ref)
    engine.ok("push", ref)
    engine.ok("rmi", ref)
    child = pexpect.spawn(
        engine.berth, ["pull", ref], env=engine.env(), timeout=60, encoding="utf-8"
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Status: " in child.before
    engine.ok("rmi", ref)


def test_missing_tag_fails_with_registry_error(engine, registry: str) -> None:
    result = engine.run("pull", f"{registry}/cli/never-pushed:1")
    assert result.returncode == 1
    assert "Error" in result.stderr

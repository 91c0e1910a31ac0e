"""push, pull (with progress) and run's pull-on-404 through a registry on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from tests.support.ports import free_port, serving

pytestmark = pytest.mark.docker


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
    with serving([binary, "serve", str(config)], port, "docker-registry") as address:
        yield address


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


@pytest.fixture
def berth_registry(engine, tmp_path: Path):
    """`berth registry serve` with basic auth (alice / s3cret); yields its address."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        pytest.skip("htpasswd (apache2-utils) is not installed")
    subprocess.run(
        [htpasswd, "-Bbc", str(tmp_path / "htpasswd"), "alice", "s3cret"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    argv = [engine.berth, "registry", "serve", "--addr", f"127.0.0.1:{port}",
            "--root", str(tmp_path / "data"), "--htpasswd", str(tmp_path / "htpasswd")]  # fmt: skip
    with serving(argv, port, "berth registry serve", env=engine.env()) as address:
        yield address


def test_login_push_manifest_logout(engine, berth_registry: str) -> None:
    ref = f"{berth_registry}/team/busybox:1"
    engine.ok("tag", "busybox", ref)
    refused = engine.run("push", ref)
    assert refused.returncode == 1
    assert "auth" in refused.stderr.lower() and not refused.stderr.startswith("Error response")

    wrong = engine.run("login", "-u", "alice", "--password-stdin", berth_registry, input="nope\n")
    assert wrong.returncode == 1
    logged = engine.run(
        "login", "-u", "alice", "--password-stdin", berth_registry, input="s3cret\n"
    )
    assert logged.returncode == 0, logged.stderr
    assert logged.stdout == "Login Succeeded\n"
    config = Path(engine.env()["BERTH_CONFIG"]) / "config.json"
    assert berth_registry in config.read_text()

    assert "1: digest: sha256:" in engine.ok("push", ref)
    manifest = engine.ok("manifest", "inspect", ref)
    assert '"schemaVersion": 2' in manifest and '"layers"' in manifest
    assert (
        engine.ok("logout", berth_registry) == f"Removing login credentials for {berth_registry}\n"
    )
    assert berth_registry not in config.read_text()
    engine.ok("rmi", ref)

"""An Engine API daemon for the CLI tests: a private berthd (a private dockerd only on request).

The CLI is a client of the Docker Engine API, so the same tests hold against
either engine. `engine` (session scope) starts berthd through the shared
harness (tests/support/berthd.py: temporary data root, exec root and socket),
imports the busybox test image through `POST /images/create` and checks it can
run a container. berthd is what these tests are for: if any step fails, the
session errors, it never falls back to another engine. `BERTH_CLI_TEST_ENGINE=dockerd`
asks for a private dockerd instead (skipped, with the reason, when it cannot
run). Everything the engine created is removed and checked afterwards.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.berthd import Berthd, private_berthd
from tests.support.dockerd import Dockerd, private_dockerd
from tests.support.rootfs import make_busybox_rootfs
from tests.support.tools import tool


class Engine:
    """A running daemon: which one, its host address, and how to run `berth` against it."""

    def __init__(self, kind: str, daemon: Berthd | Dockerd) -> None:
        self.kind = kind
        self.daemon = daemon
        self.host = daemon.host
        self.root = daemon.root
        self.berth = tool("berth")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BERTH_HOST"] = self.host
        env["DOCKER_HOST"] = self.host  # for the real docker CLI in comparisons
        env["BERTH_CONFIG"] = str(self.root / "client-config")
        env["DOCKER_CONFIG"] = str(self.root / "docker-config")
        return env

    def run(
        self, *args: str, input: str | bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """`berth ARGS` against this engine; text output unless input is bytes."""
        return subprocess.run(
            [self.berth, *args],
            input=input,
            capture_output=True,
            text=not isinstance(input, bytes),
            timeout=timeout,
            env=self.env(),
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.returncode == 0, (
            f"berth {' '.join(args)} -> {result.returncode}: {result.stderr}"
        )
        return result.stdout


def _rootfs_tar(rootfs: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name)
    return buf.getvalue()


def _import_busybox(host: str, tar: bytes) -> None:
    from berth.client.api import Client

    for msg in Client(host).stream_json(
        "POST",
        "/images/create",
        params={"fromSrc": "-", "repo": "busybox", "tag": "latest"},
        body=tar,
    ):
        if msg.get("error"):
            raise RuntimeError(msg["error"])


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A daemon with a `busybox:latest` image; see the module docstring for the choice."""
    tar = _rootfs_tar(make_busybox_rootfs(tmp_path_factory.mktemp("cli-busybox") / "rootfs"))
    kind = os.environ.get("BERTH_CLI_TEST_ENGINE", "berthd")
    if kind not in ("berthd", "dockerd"):
        raise ValueError(f"BERTH_CLI_TEST_ENGINE={kind}: berthd or dockerd")
    start = (
        private_berthd("bcli-b", busybox=False) if kind == "berthd" else private_dockerd("bcli-d")
    )
    with start as daemon:
        engine = Engine(kind, daemon)
        _import_busybox(engine.host, tar)
        probe = engine.run("run", "--rm", "busybox", "true", timeout=60)
        assert probe.returncode == 0, f"{kind} cannot run a container: {probe.stderr.strip()}"
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\ncli integration tests run against {kind}")
        yield engine


@pytest.fixture
def name() -> str:
    """A unique container name for one test."""
    import secrets

    return f"cli-{secrets.token_hex(4)}"

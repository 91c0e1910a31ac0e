"""An Engine API daemon for the CLI tests: berthd when it works, else a private dockerd.

The CLI is a client of the Docker Engine API, so the same tests hold against
either engine. `engine` (session scope) starts berthd on a temporary data root
and socket, imports the busybox test image and checks it can run a container; if
any step fails it falls back to a private dockerd (`--iptables=false
--bridge=none`, its own data root and socket). `BERTH_CLI_TEST_ENGINE=berthd` or
`=dockerd` forces one. Tests skip, with the reason, when neither can run.
Everything the engine created is removed afterwards.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, make_busybox_rootfs


class Engine:
    """A running daemon: which one, its host address, and how to run `berth` against it."""

    def __init__(self, kind: str, host: str, proc: subprocess.Popen, root: Path) -> None:
        self.kind = kind
        self.host = host
        self.proc = proc
        self.root = root
        self.berth = str(VENV_BIN / "berth")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DOCKER_HOST", None)
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


def _wait_ping(host: str, proc: subprocess.Popen, deadline: float) -> None:
    from berth.client.api import Client

    client = Client(host)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.returncode}")
        try:
            client.ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError("daemon did not answer /_ping in time") from None
            time.sleep(0.05)


def _import_busybox(host: str, tar: bytes) -> None:
    from berth.client.api import Client

    client = Client(host)
    for msg in client.stream_json(
        "POST",
        "/images/create",
        params={"fromSrc": "-", "repo": "busybox", "tag": "latest"},
        body=tar,
    ):
        if msg.get("error"):
            raise RuntimeError(msg["error"])


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _start_berthd(root: Path, tar: bytes) -> Engine:
    berthd = VENV_BIN / "berthd"
    if not berthd.exists():
        raise RuntimeError("berthd is not installed")
    (root / "daemon.json").write_text("{}")
    host = f"unix://{root}/b.sock"
    log = open(root / "berthd.log", "wb")  # noqa: SIM115 (lives as long as the daemon)
    proc = subprocess.Popen(
        [str(berthd), "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "-H", host, "--config-file", str(root / "daemon.json"), "--pidfile", str(root / "berthd.pid")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    engine = Engine("berthd", host, proc, root)
    try:
        _wait_ping(host, proc, time.monotonic() + 20)
        _import_busybox(host, tar)
        probe = engine.run("run", "--rm", "busybox", "true", timeout=60)
        if probe.returncode != 0:
            raise RuntimeError(f"berthd cannot run a container: {probe.stderr.strip()}")
    except BaseException:
        _cleanup(engine)
        raise
    return engine


def _start_dockerd(root: Path, tar: bytes) -> Engine:
    if os.geteuid() != 0:
        raise RuntimeError("dockerd needs root")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("dockerd is not installed")
    host = f"unix://{root}/d.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [dockerd, "--iptables=false", "--bridge=none", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "-H", host, "--pidfile", str(root / "dockerd.pid")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    engine = Engine("dockerd", host, proc, root)
    try:
        _wait_ping(host, proc, time.monotonic() + 60)
        _import_busybox(host, tar)
    except BaseException:
        _cleanup(engine)
        raise
    return engine


def _kill_leftovers(root: Path) -> None:
    """Kill what this engine started and left behind (a shim or runtime stuck in a
    failed create): processes whose command line names our unique root directory."""
    marker = str(root).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker in f.read():
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def _cleanup(engine: Engine) -> None:
    """Remove every container the tests left, stop the daemon, delete its root."""
    if engine.proc.poll() is None:
        try:
            ids = engine.run("ps", "-aq", timeout=30).stdout.split()
            if ids:
                engine.run("rm", "-f", *ids, timeout=60)
        except Exception:
            pass
    _stop(engine.proc)
    _kill_leftovers(engine.root)
    subprocess.run(["umount", "-R", "-l", str(engine.root / "data")], capture_output=True)
    subprocess.run(["umount", "-R", "-l", str(engine.root / "exec")], capture_output=True)
    shutil.rmtree(engine.root, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """A daemon with a `busybox:latest` image; see the module docstring for the choice."""
    rootfs = make_busybox_rootfs(tmp_path_factory.mktemp("cli-busybox") / "rootfs")
    tar = _rootfs_tar(rootfs)
    forced = os.environ.get("BERTH_CLI_TEST_ENGINE")
    # berthd is what these tests are for: a berthd that cannot start is an error,
    # not a quiet run against dockerd (BERTH_CLI_TEST_ENGINE=dockerd asks for that)
    order = [forced] if forced else ["berthd"]
    reasons = []
    for kind in order:
        # short path: unix socket paths are limited to 108 bytes
        root = Path(tempfile.mkdtemp(prefix=f"bcli-{kind[0]}", dir="/tmp"))
        try:
            engine = (_start_berthd if kind == "berthd" else _start_dockerd)(root, tar)
        except Exception as e:
            reasons.append(f"{kind}: {e}")
            shutil.rmtree(root, ignore_errors=True)
            continue
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            note = f" ({'; '.join(reasons)})" if reasons else ""
            reporter.write_line(f"\ncli integration tests run against {kind}{note}")
        try:
            yield engine
        finally:
            _cleanup(engine)
        return
    if "berthd" in order:
        raise RuntimeError("berthd could not serve the CLI tests: " + "; ".join(reasons))
    pytest.skip("no Engine API daemon could run: " + "; ".join(reasons))


@pytest.fixture
def name() -> str:
    """A unique container name for one test."""
    import secrets

    return f"cli-{secrets.token_hex(4)}"

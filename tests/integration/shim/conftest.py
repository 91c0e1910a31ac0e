"""Fixtures for the shim's integration tests: busybox bundles run through real
shims over a real OCI runtime (Debian's runc and berth-runc).

`Shims` is what a test uses in place of the daemon: it writes a bundle, spawns
a shim (through the zygote unless told otherwise) and, at the end, leaves
nothing behind: shims and containers killed, the runtime's state deleted, no
cgroup named after a container, the zygote stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from berth.runtime.example import example_config
from berth.shim import client
from tests.conftest import tool
from tests.support.cgroups import cgroup_dirs
from tests.support.poll import wait_until

RUNTIMES = ["runc", "berth-runc"]


def runtime_path(name: str) -> str:
    if name == "runc":
        path = shutil.which("runc")
        if path is None:
            pytest.skip("runc is not installed")
        return path
    return tool("berth-runc")


# the name this folder's tests import: poll with a deadline, fail the test on timeout
wait_for = wait_until


def alive(pid: int | None) -> bool:
    return client._alive(pid)


class Shims:
    """A test's stand-in for the daemon: bundles, shims, and the cleanup of both."""

    def __init__(self, runtime: str, rootfs: Path, workdir: Path, socket_dir: Path) -> None:
        self.runtime = runtime
        self.rootfs = rootfs
        self.workdir = workdir
        self.socket_dir = socket_dir
        self.runtime_root = workdir / "runtime-root"
        self.ids: list[str] = []

    def bundle(self, args: list[str], tty: bool = False, **linux: object) -> tuple[str, Path]:
        cid = f"shimt-{secrets.token_hex(6)}"
        self.ids.append(cid)
        bundle = self.workdir / cid
        bundle.mkdir()
        config = example_config()
        config["process"]["terminal"] = tty
        config["process"]["args"] = args
        config["root"] = {"path": str(self.rootfs), "readonly": True}
        config["linux"]["cgroupsPath"] = f"/{cid}"
        config["linux"].setdefault("resources", {}).update(linux)
        (bundle / "config.json").write_text(json.dumps(config))
        return cid, bundle

    def spec(self, args: list[str], tty: bool = False, **kw: object) -> client.ShimSpec:
        linux = kw.pop("resources", {})
        cid, bundle = self.bundle(args, tty, **linux)
        kw.setdefault("log_path", self.workdir / f"{cid}-json.log")
        return client.ShimSpec(
            id=cid,
            bundle=bundle,
            runtime=self.runtime,
            runtime_root=self.runtime_root,
            socket_dir=self.socket_dir,
            tty=tty,
            **kw,
        )

    def run(self, args: list[str], tty: bool = False, zygote: bool = True, **kw) -> client.Shim:
        return client.spawn(self.spec(args, tty, **kw), zygote=zygote)

    def rt(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.runtime, "--root", str(self.runtime_root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def cleanup(self) -> None:
        for cid in self.ids:
            facts = client.probe(client.state_dir(self.socket_dir, cid))
            if facts.shim_alive and facts.shim_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(facts.shim_pid, signal.SIGKILL)
            if facts.pid_alive and facts.pid:
                self.rt("kill", cid, "KILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(facts.pid, signal.SIGKILL)
                wait_for(lambda p=facts.pid: not alive(p), what=f"container {cid} to die")
            if facts.shim_pid:
                wait_for(lambda p=facts.shim_pid: not alive(p), what=f"shim of {cid} to die")
            self.rt("delete", "--force", cid)
        for cid in self.ids:
            for path in cgroup_dirs(cid):
                with contextlib.suppress(OSError):
                    os.rmdir(path)
            assert not cgroup_dirs(cid), f"cgroups of {cid} left behind"


@pytest.fixture(scope="session")
def socket_dir():
    """A short directory for shim sockets (sun_path is 108 bytes), and its zygote."""
    path = Path(tempfile.mkdtemp(prefix="bshim-", dir="/tmp"))
    try:
        yield path
    finally:
        client.stop_zygote(path)
        if not os.environ.get("BERTH_SHIM_TEST_KEEP"):
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=RUNTIMES)
def shims(request, busybox_rootfs: Path, tmp_path: Path, socket_dir: Path, needs_root):
    s = Shims(runtime_path(request.param), busybox_rootfs, tmp_path, socket_dir)
    try:
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def runc_shims(busybox_rootfs: Path, tmp_path: Path, socket_dir: Path, needs_root):
    """Only runc: for tests about the shim itself, not the runtime swap."""
    s = Shims(runtime_path("runc"), busybox_rootfs, tmp_path, socket_dir)
    try:
        yield s
    finally:
        s.cleanup()


def read_until(stream: client.AttachStream, needle: bytes, timeout: float = 15.0) -> bytes:
    """Read frames until `needle` shows up in the stdout seen so far."""
    stream.sock.settimeout(timeout)
    seen = b""
    try:
        while needle not in seen:
            frame = stream.read_frame()
            if frame is None:
                break
            seen += frame[1]
    finally:
        stream.sock.settimeout(None)
    assert needle in seen, f"{needle!r} not in {seen!r}"
    return seen


def log_entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]

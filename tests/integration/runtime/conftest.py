"""Fixtures for the runtime's integration tests: bundles on the busybox rootfs,
and the two runtimes (berth-runc and Debian's runc) behind one small driver.

Every container a test makes has a unique id and a state root under the test's
tmp dir; `Runtime` force-deletes what it made and the fixture then checks that
no cgroup directory and no mount of the bundle is left behind.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from berth.runtime.example import example_config
from tests.conftest import make_busybox_rootfs, tool
from tests.support.cgroups import cgroup_dirs
from tests.support.poll import wait_until


def base_config(rootfs: Path, args: list[str]) -> dict:
    """runc's example config, non-interactive, running `args` on `rootfs`."""
    config = example_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    config["root"] = {"path": str(rootfs), "readonly": True}
    return config


class Bundle:
    def __init__(self, path: Path, config: dict) -> None:
        self.path = path
        self.config = config

    def write(self) -> Bundle:
        (self.path / "config.json").write_text(json.dumps(self.config))
        return self


class Runtime:
    """One OCI runtime binary with its own state root; records the ids it used."""

    def __init__(self, name: str, binary: str, root: Path) -> None:
        self.name = name
        self.binary = binary
        self.root = root
        self.ids: list[str] = []

    def new_id(self) -> str:
        cid = f"t{secrets.token_hex(5)}"
        self.ids.append(cid)
        return cid

    def __call__(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(
            [self.binary, "--root", str(self.root), *args], timeout=timeout, check=False, **kwargs
        )

    def detached(self, *args: str) -> subprocess.CompletedProcess:
        """A command whose container keeps its stdio (create, run -d, exec -d):
        files instead of pipes, or reading them would wait for the container."""
        import tempfile

        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = self(
                *args, stdout=out, stderr=err, capture_output=False, stdin=subprocess.DEVNULL
            )
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        return result

    def run(self, bundle: Bundle, *extra: str, **kwargs) -> subprocess.CompletedProcess:
        bundle.write()
        return self("run", "--bundle", str(bundle.path), *extra, self.new_id(), **kwargs)

    def state(self, cid: str) -> dict:
        result = self("state", cid)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def cleanup(self) -> None:
        for cid in self.ids:
            self("delete", "--force", cid)


# the name this folder's tests import: poll with a deadline, fail the test on timeout
wait_for = wait_until


def mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if f" {path}" in line]


@pytest.fixture(scope="session")
def rootfs(busybox_rootfs: Path) -> Path:
    return busybox_rootfs


@pytest.fixture
def bundle(tmp_path: Path, rootfs: Path, needs_root) -> Bundle:
    path = tmp_path / "bundle"
    path.mkdir()
    return Bundle(path, base_config(rootfs, ["true"]))


@pytest.fixture
def private_rootfs(tmp_path: Path) -> Path:
    """A rootfs of the test's own, for tests whose mounts create directories in it."""
    return make_busybox_rootfs(tmp_path / "own-rootfs")


def _runtime(name: str, binary: str, tmp_path: Path):
    runtime = Runtime(name, binary, tmp_path / f"state-{name}")
    try:
        yield runtime
    finally:
        runtime.cleanup()
        for cid in runtime.ids:
            assert not cgroup_dirs(cid), f"{name} left cgroups of {cid}"
        assert not mounts_under(tmp_path), "mounts left behind"


@pytest.fixture
def berth_runc(tmp_path: Path, needs_root):
    yield from _runtime("berth-runc", tool("berth-runc"), tmp_path)


@pytest.fixture
def runc(tmp_path: Path, needs_root):
    binary = shutil.which("runc")
    if binary is None:
        pytest.skip("runc is not installed")
    yield from _runtime("runc", binary, tmp_path)


@pytest.fixture(params=["berth-runc", "runc"])
def any_runtime(request, tmp_path: Path, needs_root):
    """The same test under both runtimes: the swappability promise."""
    if request.param == "runc":
        binary = shutil.which("runc")
        if binary is None:
            pytest.skip("runc is not installed")
    else:
        binary = tool("berth-runc")
    yield from _runtime(request.param, binary, tmp_path)


def clone(config: dict) -> dict:
    return copy.deepcopy(config)


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


__all__ = [
    "Bundle",
    "Runtime",
    "base_config",
    "cgroup_dirs",
    "clone",
    "os",
    "process_gone",
    "wait_for",
]

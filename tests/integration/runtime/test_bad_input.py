"""Bad input: one clear line on stderr, exit status 1, and nothing left behind
(no state dir, no cgroup, no mount, no process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import Bundle, Runtime, cgroup_dirs, mounts_under, wait_for


def _processes_of(bundle: Path) -> list[int]:
    """Processes whose command line mentions the bundle (a stuck init would)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(bundle).encode() in cmdline and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def assert_refused(result, cid: str, runtime: Runtime, bundle: Bundle, words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr
    assert not (runtime.root / cid).exists() if "/" not in cid else True
    assert not cgroup_dirs(cid) if "/" not in cid and cid not in (".", "..") else True
    assert not mounts_under(bundle.path)
    assert not _processes_of(bundle.path)


def _create(runtime: Runtime, bundle: Bundle, cid: str | None = None):
    cid = cid or runtime.new_id()
    return cid, runtime.detached("create", "--bundle", str(bundle.path), cid)


def test_malformed_config(berth_runc: Runtime, bundle: Bundle):
    (bundle.path / "config.json").write_text('{"ociVersion": "1.0.2", "process": {')
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "invalid JSON")


def test_wrongly_typed_config(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = "sh"
    bundle.write()
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "process.args: expected an array")


def test_missing_rootfs(berth_runc: Runtime, bundle: Bundle):
    bundle.config["root"]["path"] = str(bundle.path / "nowhere")
    bundle.write()
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "rootfs")


def test_unknown_namespace_type(berth_runc: Runtime, bundle: Bundle):
    bundle.config["linux"]["namespaces"].append({"type": "galaxy"})
    bundle.write()
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "galaxy")


def test_missing_executable_fails_at_create(berth_runc: Runtime, bundle: Bundle):
    """Found only inside the container, after mounts and cgroup exist: all undone."""
    bundle.config["process"]["args"] = ["no-such-program"]
    bundle.write()
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "executable file not found")


def test_failing_mount_is_undone(berth_runc: Runtime, bundle: Bundle):
    bundle.config["mounts"].append(
        {"destination": "/tmp", "type": "bind", "source": "/no/such/dir", "options": ["bind"]}
    )
    bundle.write()
    cid, result = _create(berth_runc, bundle)
    assert_refused(result, cid, berth_runc, bundle, "/no/such/dir")


def test_existing_id(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid, first = _create(berth_runc, bundle)
    assert first.returncode == 0, first.stderr
    pid = berth_runc.state(cid)["pid"]
    again = berth_runc.detached("create", "--bundle", str(bundle.path), cid)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1
    assert "already exists" in again.stderr
    assert berth_runc.state(cid)["pid"] == pid  # the first one is untouched
    assert berth_runc("delete", cid).returncode == 0  # created: deleted without --force
    wait_for(lambda: not cgroup_dirs(cid), what="cgroup removed")


@pytest.mark.parametrize("cid", ["a/b", "..", "../escape", "x y"])
def test_bad_ids(berth_runc: Runtime, bundle: Bundle, cid: str):
    bundle.write()
    _, result = _create(berth_runc, bundle, cid)
    assert_refused(result, cid, berth_runc, bundle, "invalid container id")
    assert not berth_runc.root.exists() or not os.listdir(berth_runc.root)


def test_start_running_and_delete_running(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("run", "-d", "-b", str(bundle.path), cid).returncode == 0
    started = berth_runc("start", cid)
    assert (started.returncode, started.stderr.count("\n")) == (1, 1)
    assert "already running" in started.stderr
    deleted = berth_runc("delete", cid)
    assert (deleted.returncode, deleted.stderr.count("\n")) == (1, 1)
    assert "not stopped" in deleted.stderr
    assert berth_runc.state(cid)["status"] == "running"


def test_unknown_container_and_log_file(berth_runc: Runtime, tmp_path: Path):
    log = tmp_path / "log.json"
    result = berth_runc("--log", str(log), "--log-format", "json", "state", "nothere")
    assert result.returncode == 1
    assert result.stderr == "container does not exist\n"
    entry = json.loads(log.read_text())
    assert entry["level"] == "error" and entry["msg"] == "container does not exist"
    assert berth_runc("delete", "--force", "nothere").returncode == 0

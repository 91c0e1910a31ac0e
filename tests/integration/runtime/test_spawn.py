"""Forking the container's processes without an intermediate (create.spawn_direct):
the child is born in the container's pid namespace, new or joined, and the
runtime's own later children (hooks) stay in the runtime's namespace."""

from __future__ import annotations

import os
import time
from pathlib import Path

from berth.linux import namespaces as ns
from berth.runtime.create import fork_in_pid_namespace
from tests.integration.runtime.conftest import Bundle, Runtime


class _Plan:
    def __init__(self, join: list[tuple[str, str]], new_flags: int) -> None:
        self.join = join
        self.new_flags = new_flags


def _child_reports(plan: _Plan, holder: bool = False) -> tuple[int, str]:
    """Fork with `plan`; the child writes its pid and pid namespace, then exits
    (or, as `holder`, stays until killed). Returns (child's host pid, report)."""
    read, write = os.pipe()
    pid = fork_in_pid_namespace(plan)
    if pid == 0:
        try:
            os.close(read)
            os.write(write, f"{os.getpid()} {os.readlink('/proc/self/ns/pid')}".encode())
            os.close(write)
            if holder:
                time.sleep(600)  # killed by the test
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        return pid, f.read()


def _reap(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def test_a_new_pid_namespace_for_the_child_only(needs_root) -> None:
    ours = os.readlink("/proc/self/ns/pid")
    pid, report = _child_reports(_Plan([], ns.CLONE_NEWPID))
    _reap(pid)
    child_pid, child_ns = report.split()
    assert child_pid == "1"
    assert child_ns != ours
    # This process went back: its next child is in its own namespace.
    assert os.readlink("/proc/self/ns/pid_for_children") == ours
    again, report = _child_reports(_Plan([], 0))
    _reap(again)
    assert report.split()[1] == ours


def test_a_joined_pid_namespace(needs_root) -> None:
    holder, report = _child_reports(_Plan([], ns.CLONE_NEWPID), holder=True)
    try:
        holder_ns = report.split()[1]
        pid, report = _child_reports(_Plan([("pid", f"/proc/{holder}/ns/pid")], 0))
        _reap(pid)
        child_pid, child_ns = report.split()
        assert child_ns == holder_ns
        assert child_pid != "1"  # the holder is 1 there
        assert os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid")
    finally:
        _reap(holder)


def test_hooks_and_container_see_their_own_pid_namespaces(
    any_runtime: Runtime, bundle: Bundle, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    bundle.config["hooks"] = {
        "prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", f"readlink /proc/self/ns/pid > {out}/hook"]}
        ]
    }
    bundle.config["mounts"].append(
        {"destination": "/out", "type": "bind", "source": str(out), "options": ["rbind"]}
    )
    bundle.config["root"]["readonly"] = False
    bundle.config["process"]["args"] = ["sh", "-c", "echo $$ > /out/pid"]
    bundle.write()
    result = any_runtime.detached("run", "-b", str(bundle.path), any_runtime.new_id())
    assert result.returncode == 0, result.stderr
    assert (out / "hook").read_text().strip() == os.readlink("/proc/self/ns/pid")
    assert (out / "pid").read_text().strip() == "1"


def test_exec_joins_the_containers_pid_namespace(
    any_runtime: Runtime, bundle: Bundle, tmp_path: Path
) -> None:
    bundle.config["process"]["args"] = ["sleep", "600"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("create", "-b", str(bundle.path), cid).returncode == 0
    assert any_runtime("start", cid).returncode == 0
    state = any_runtime.state(cid)
    assert state["status"] == "running"
    init = state["pid"]
    result = any_runtime("exec", cid, "sh", "-c", "echo $$; readlink /proc/self/ns/pid")
    assert result.returncode == 0, result.stderr
    exec_pid, exec_ns = result.stdout.split()
    assert exec_ns == os.readlink(f"/proc/{init}/ns/pid")
    assert exec_pid != "1"

"""Live restore: berthd killed (SIGKILL) or stopped (SIGTERM) while clients are
streaming logs, attached or running an exec. The container keeps running and
logging; after the daemon is back, logs/attach/exec/stop/rm work on it."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import alive, poll

COUNTER = "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done"


def _numbers(text: str) -> list[int]:
    return [int(w.split()[1]) for w in text.splitlines() if w.startswith("line ")]


def _logged(engine, cid: str) -> list[int]:
    """Line numbers in the container's json-file log, read without the daemon."""
    path = engine.data_root / "containers" / cid / f"{cid}-json.log"
    return _numbers("".join(json.loads(x)["log"] for x in path.read_text().splitlines()))


def _assert_contiguous(nums: list[int]) -> None:
    assert nums, "no log lines"
    assert nums == list(range(nums[0], nums[0] + len(nums))), nums[:50]


def _read_until(proc: subprocess.Popen, want: bytes, deadline: float = 15.0) -> bytes:
    """Bytes from proc.stdout until `want` shows up (or the deadline)."""
    fd = proc.stdout.fileno()
    got = b""
    end = time.monotonic() + deadline
    while want not in got and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            got += chunk
    return got


def _stop_rm(engine, cid: str) -> None:
    engine.cli("stop", "-t", "1", cid)
    assert engine.state(cid)["Status"] == "exited"
    engine.cli("rm", cid)
    assert cid not in engine.ids()


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_logs_follow_across_a_daemon_restart(engine, how):
    cid = engine.run_d("busybox", "sh", "-c", COUNTER)
    pid = engine.state(cid)["Pid"]
    follow = subprocess.Popen(
        engine.cli_argv("logs", "-f", cid), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert b"line 5\n" in _read_until(follow, b"line 5\n")
        engine.kill9() if how == "kill9" else engine.term()
        # the client sees its stream end; the container does not care
        follow.wait(15)
        assert alive(pid)
        n_before = _logged(engine, cid)[-1]
        # it keeps logging while the daemon is away
        assert poll(lambda: _logged(engine, cid)[-1] >= n_before + 20, 15)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    engine.start()
    st = engine.state(cid)
    assert st["Status"] == "running" and st["Pid"] == pid
    nums = _numbers(engine.cli("logs", cid).stdout)
    _assert_contiguous(nums)  # nothing lost while the daemon was away
    assert nums[-1] >= n_before + 20
    follow = subprocess.Popen(
        engine.cli_argv("logs", "-f", "--tail", "1", cid), stdout=subprocess.PIPE
    )
    try:
        first = _read_until(follow, b"\n")
        want = f"line {_numbers(first.decode())[0] + 10}\n".encode()
        assert want in _read_until(follow, want)
    finally:
        follow.kill()
        follow.wait()
    assert engine.cli("exec", cid, "echo", "alive").stdout == "alive\n"
    _stop_rm(engine, cid)


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_attach_across_a_daemon_restart(engine, how):
    script = "echo ready; while read l; do echo got $l; done"
    cid = engine.run_d("-i", "busybox", "sh", "-c", script)
    pid = engine.state(cid)["Pid"]
    att = subprocess.Popen(
        engine.cli_argv("attach", cid), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        poll(lambda: "ready" in engine.cli("logs", cid).stdout)
        att.stdin.write(b"one\n")
        att.stdin.flush()
        assert b"got one\n" in _read_until(att, b"got one\n")
        engine.kill9() if how == "kill9" else engine.term()
        att.wait(15)  # the attach ends with the daemon ...
    finally:
        if att.poll() is None:
            att.kill()
        att.wait()
    assert alive(pid)  # ... and the container's stdin was not closed
    engine.start()
    assert engine.state(cid)["Status"] == "running"
    att = subprocess.Popen(
        engine.cli_argv("attach", cid), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        # attach again: input reaches the same process, output comes back
        got = b""
        end = time.monotonic() + 15
        while b"got two\n" not in got and time.monotonic() < end:
            att.stdin.write(b"two\n")
            att.stdin.flush()
            got += _read_until(att, b"got two\n", 1.0)
        assert b"got two\n" in got
    finally:
        att.kill()
        att.wait()
    assert engine.state(cid)["Pid"] == pid
    assert "got one" in engine.cli("logs", cid).stdout
    _stop_rm(engine, cid)


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_exec_across_a_daemon_restart(engine, how):
    cid = engine.run_d("busybox", "sh", "-c", "while :; do sleep 1; done")
    rootfs = Path(f"/proc/{engine.state(cid)['Pid']}/root")
    script = "echo started; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo finished > /tmp/done"
    ex = subprocess.Popen(engine.cli_argv("exec", cid, "sh", "-c", script), stdout=subprocess.PIPE)
    try:
        assert b"started" in _read_until(ex, b"started")
        engine.kill9() if how == "kill9" else engine.term()
        ex.wait(15)
    finally:
        if ex.poll() is None:
            ex.kill()
        ex.wait()
    (rootfs / "tmp" / "go").write_text("")
    # the exec'd process goes on without the daemon and finishes its work
    assert poll(lambda: (rootfs / "tmp" / "done").exists(), 15)
    engine.start()
    assert engine.cli("exec", cid, "cat", "/tmp/done").stdout == "finished\n"
    res = engine.cli("exec", cid, "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3
    _stop_rm(engine, cid)


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_exit_while_the_daemon_is_away_keeps_its_code(engine, how):
    script = "while [ ! -f /tmp/go ]; do sleep 0.05; done; echo bye; exit 42"
    cid = engine.run_d("busybox", "sh", "-c", script)
    pid = engine.state(cid)["Pid"]
    root = f"/proc/{pid}/root"
    engine.kill9() if how == "kill9" else engine.term()
    with open(f"{root}/tmp/go", "w"):
        pass
    assert poll(lambda: not alive(pid), 15)
    engine.start()
    st = poll(lambda: (s := engine.state(cid))["Status"] == "exited" and s, 15)
    assert st and st["ExitCode"] == 42 and st["Pid"] == 0
    assert "bye" in engine.cli("logs", cid).stdout
    res = engine.cli("wait", cid)
    assert res.stdout.strip() == "42"
    # it can run again (/tmp/go is still there: it exits at once) and be removed
    engine.cli("start", cid)
    assert engine.cli("wait", cid).stdout.strip() == "42"
    assert engine.cli("logs", cid).stdout.count("bye") == 2
    engine.cli("rm", cid)
    assert cid not in engine.ids()

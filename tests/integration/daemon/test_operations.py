"""The rest of the container commands through the docker CLI: pause, rename,
cp, diff, export, stats, update, wait, restart, health, attach with a tty."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.support.poll import poll
from tests.support.tools import DOCKER


def _name(prefix: str = "op") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _inspect(d, ref):
    return json.loads(d.docker("inspect", ref).stdout)[0]


@pytest.fixture
def sleeper(berthd):
    name = _name()
    berthd.docker("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300")
    yield name
    berthd.docker("rm", "-f", name, check=False)


def test_pause_unpause_rename(berthd, sleeper):
    berthd.docker("pause", sleeper)
    assert _inspect(berthd, sleeper)["State"]["Status"] == "paused"
    res = berthd.docker("exec", sleeper, "true", check=False)
    assert res.returncode != 0 and "paused" in res.stderr
    berthd.docker("unpause", sleeper)
    assert _inspect(berthd, sleeper)["State"]["Status"] == "running"
    new = sleeper + "-new"
    berthd.docker("rename", sleeper, new)
    assert _inspect(berthd, new)["Name"] == "/" + new
    berthd.docker("rename", new, sleeper)


def test_cp_diff_export(berthd, sleeper, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello cp\n")
    berthd.docker("cp", str(src), f"{sleeper}:/tmp/in.txt")
    assert berthd.docker("exec", sleeper, "cat", "/tmp/in.txt").stdout == "hello cp\n"
    berthd.docker("cp", f"{sleeper}:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "hello cp\n"
    berthd.docker("cp", f"{sleeper}:/etc/hostname", str(tmp_path / "hostname"))
    cid = _inspect(berthd, sleeper)["Id"]
    assert (tmp_path / "hostname").read_text() == cid[:12] + "\n"
    diff = berthd.docker("diff", sleeper).stdout.splitlines()
    assert "A /tmp/in.txt" in diff
    out = tmp_path / "export.tar"
    berthd.docker("export", "-o", str(out), sleeper)
    import tarfile

    with tarfile.open(out) as t:
        names = t.getnames()
    assert any(n.rstrip("/").endswith("bin/busybox") for n in names)


def test_stats_and_update(berthd, sleeper):
    out = berthd.docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", sleeper).stdout
    assert out.split() == [sleeper, "1"]
    berthd.docker(
        "update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "50", sleeper
    )
    doc = _inspect(berthd, sleeper)
    assert doc["HostConfig"]["Memory"] == 64 << 20 and doc["HostConfig"]["PidsLimit"] == 50
    cg = f"/sys/fs/cgroup/memory/berth/{doc['Id']}/memory.limit_in_bytes"
    if os.path.exists(cg):
        with open(cg) as f:
            assert int(f.read()) == 64 << 20
    res = berthd.docker("update", "--cpus", "99", sleeper, check=False)
    assert res.returncode != 0 and "Range of CPUs" in res.stderr


def test_wait_restart_and_stop_signal(berthd):
    name = _name()
    berthd.docker(
        "run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c", "sleep 0.3; exit 4"
    )
    assert berthd.docker("wait", name).stdout.strip() == "4"
    berthd.docker("restart", name)
    assert berthd.docker("wait", name).stdout.strip() == "4"
    berthd.docker("rm", name)
    name = _name()
    berthd.docker(
        "run", "-d", "--name", name, "--network", "none", "--stop-signal", "USR1", "busybox",
        "sh", "-c", "trap 'exit 9' USR1; while true; do sleep 0.1; done",
    )  # fmt: skip
    berthd.docker("stop", name)
    assert _inspect(berthd, name)["State"]["ExitCode"] == 9
    berthd.docker("rm", name)


def test_init_and_health(berthd):
    name = _name()
    berthd.docker(
        "run", "-d", "--init", "--name", name, "--network", "none",
        "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms", "--health-retries", "1",
        "busybox", "sleep", "300",
    )  # fmt: skip
    ps1 = berthd.docker("exec", name, "cat", "/proc/1/cmdline").stdout
    assert ps1.startswith("/sbin/docker-init")
    health = lambda: _inspect(berthd, name)["State"].get("Health", {}).get("Status")  # noqa: E731
    assert poll(lambda: health() == "unhealthy")
    berthd.docker("exec", name, "touch", "/tmp/ok")
    assert poll(lambda: health() == "healthy")
    assert (
        "(healthy)"
        in berthd.docker("ps", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    )
    berthd.docker("rm", "-f", name)


def test_tty_run_and_exec(berthd):
    pexpect = pytest.importorskip("pexpect")
    name = _name()
    child = pexpect.spawn(
        DOCKER, ["-H", berthd.host, "run", "-it", "--name", name, "--network", "none", "busybox", "sh"],
        timeout=20, encoding="utf-8",
    )  # fmt: skip
    try:
        child.expect("# ")
        child.sendline("echo $((6*7))")
        child.expect("42")
        child.sendcontrol("p")
        child.sendcontrol("q")
        child.expect(pexpect.EOF)
        assert _inspect(berthd, name)["State"]["Status"] == "running"
        ex = pexpect.spawn(
            DOCKER, ["-H", berthd.host, "exec", "-it", name, "sh", "-c", "tty; exit 3"],
            timeout=20, encoding="utf-8",
        )  # fmt: skip
        ex.expect("/dev/pts/")
        ex.expect(pexpect.EOF)
        ex.close()
        assert ex.exitstatus == 3
        att = pexpect.spawn(
            DOCKER,
            ["-H", berthd.host, "attach", name],
            timeout=20,
            encoding="utf-8",
        )
        att.sendline("exit 5")
        att.expect(pexpect.EOF)
        att.close()
        assert poll(lambda: _inspect(berthd, name)["State"]["Status"] == "exited")
        assert _inspect(berthd, name)["State"]["ExitCode"] == 5
    finally:
        child.close(force=True)
        berthd.docker("rm", "-f", name, check=False)


def test_always_comes_back_after_daemon_restart(berthd):
    always = _name("always")
    stopped = _name("unless")
    berthd.docker(
        "run",
        "-d",
        "--name",
        always,
        "--restart",
        "always",
        "--network",
        "none",
        "busybox",
        "sleep",
        "300",
    )
    berthd.docker(
        "run",
        "-d",
        "--name",
        stopped,
        "--restart",
        "unless-stopped",
        "--network",
        "none",
        "busybox",
        "sleep",
        "300",
    )
    berthd.docker("stop", "-t", "0", always)
    berthd.docker("stop", "-t", "0", stopped)
    berthd.stop()
    berthd.start()
    assert poll(lambda: _inspect(berthd, always)["State"]["Status"] == "running")
    assert _inspect(berthd, stopped)["State"]["Status"] == "exited"
    berthd.docker("rm", "-f", always, stopped)


def test_oom_killed(berthd):
    name = _name("oom")
    res = berthd.docker(
        "run", "--name", name, "--network", "none", "-m", "8m", "--memory-swap", "8m", "busybox",
        "sh", "-c", 'a=xxxxxxxx; while true; do a="$a$a"; done', check=False,
    )  # fmt: skip
    assert res.returncode == 137
    doc = _inspect(berthd, name)
    assert doc["State"]["ExitCode"] == 137
    assert doc["State"]["OOMKilled"] is True
    berthd.docker("rm", name)

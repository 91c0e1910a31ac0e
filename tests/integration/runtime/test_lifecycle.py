"""create / start / state / kill / delete / run / exec / pause / resume / ps / list,
as the shim drives them, on the real kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import Bundle, Runtime, cgroup_dirs, process_gone, wait_for

# A subreaper that runs one runtime command, like the shim: the container's
# init is reparented to it when `create` returns. It prints the init's parent.
SUBREAPER = r"""
import os, subprocess, sys, time
from berth.linux.process import set_child_subreaper
set_child_subreaper()
result = subprocess.run(sys.argv[2:], check=False)
if result.returncode:
    sys.exit(result.returncode)
pid = int(open(sys.argv[1]).read())
with open(f"/proc/{pid}/stat") as f:
    ppid = int(f.read().split(")")[1].split()[1])
print(ppid, os.getpid(), flush=True)
sys.stdin.read()  # stay the container's reaper until the test is done
"""


def test_create_start_state_kill_delete(berth_runc: Runtime, bundle: Bundle, tmp_path: Path):
    bundle.config["process"]["args"] = ["sh", "-c", "echo started; exec sleep 60"]
    bundle.write()
    cid = berth_runc.new_id()
    pid_file = tmp_path / "pid"
    out = tmp_path / "out"
    # The init inherits create's stdio (pass-through), so files, not pipes.
    with open(out, "w") as stdout, open(tmp_path / "err", "w") as stderr:
        created = berth_runc(
            "create",
            "--bundle",
            str(bundle.path),
            "--pid-file",
            str(pid_file),
            cid,
            stdout=stdout,
            stderr=stderr,
            capture_output=False,
        )
    assert created.returncode == 0, (tmp_path / "err").read_text()
    pid = int(pid_file.read_text())
    state = berth_runc.state(cid)
    assert state["status"] == "created"
    assert state["pid"] == pid
    assert state["bundle"] == str(bundle.path)
    assert out.read_text() == ""  # waiting on the exec fifo: nothing ran yet
    assert cgroup_dirs(cid)

    assert berth_runc("start", cid).returncode == 0
    assert berth_runc.state(cid)["status"] == "running"
    # The container's stdout is the stdout `create` was given (pass-through).
    wait_for(lambda: out.read_text() == "started\n", what="container output")

    refused = berth_runc("start", cid)
    assert refused.returncode == 1
    assert "cannot start an already running container" in refused.stderr

    refused = berth_runc("delete", cid)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "not stopped: running" in refused.stderr

    assert berth_runc("kill", cid, "KILL").returncode == 0
    wait_for(lambda: berth_runc.state(cid)["status"] == "stopped", what="stopped")
    assert berth_runc("delete", cid).returncode == 0
    assert not (berth_runc.root / cid).exists()
    assert not cgroup_dirs(cid)
    assert berth_runc("state", cid).returncode == 1


def test_init_is_reparented_to_the_subreaper(berth_runc: Runtime, bundle: Bundle, tmp_path: Path):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    pid_file = tmp_path / "pid"
    command = [
        berth_runc.binary,
        "--root",
        str(berth_runc.root),
        "create",
        "--bundle",
        str(bundle.path),
        "--pid-file",
        str(pid_file),
        cid,
    ]
    reaper = subprocess.Popen(
        [sys.executable, "-c", SUBREAPER, str(pid_file), *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ppid, reaper_pid = map(int, reaper.stdout.readline().split())
        assert ppid == reaper_pid == reaper.pid
        assert berth_runc("start", cid).returncode == 0
        assert berth_runc("kill", cid, "KILL").returncode == 0
        wait_for(lambda: berth_runc.state(cid)["status"] == "stopped", what="stopped")
    finally:
        reaper.stdin.close()
        reaper.wait(timeout=30)


def test_run_exits_with_the_containers_code(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sh", "-c", "echo out; echo err >&2; exit 42"]
    result = berth_runc.run(bundle)
    assert (result.returncode, result.stdout, result.stderr) == (42, "out\n", "err\n")
    assert not os.listdir(berth_runc.root)


def test_run_reports_a_signal_as_128_plus_n(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    command = [
        berth_runc.binary,
        "--root",
        str(berth_runc.root),
        "run",
        "-b",
        str(bundle.path),
        cid,
    ]
    running = subprocess.Popen(command)
    try:
        wait_for(
            lambda: (
                berth_runc("state", cid).returncode == 0
                and berth_runc.state(cid)["status"] == "running"
            ),
            what="running",
        )
        assert berth_runc("kill", cid, "9").returncode == 0
        assert running.wait(timeout=30) == 128 + signal.SIGKILL
    finally:
        running.kill()
        running.wait()


def test_run_detached_then_kill_and_delete(berth_runc: Runtime, bundle: Bundle, tmp_path: Path):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    result = berth_runc.detached(
        "run", "-d", "--bundle", str(bundle.path), "--pid-file", str(tmp_path / "p"), cid
    )
    assert result.returncode == 0, result.stderr
    assert berth_runc.state(cid)["status"] == "running"
    assert berth_runc("delete", "--force", cid).returncode == 0
    pid = int((tmp_path / "p").read_text())
    wait_for(lambda: process_gone(pid), what="init gone")


def test_exec_ps_pause_resume_list(berth_runc: Runtime, bundle: Bundle, tmp_path: Path):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.config["process"]["env"].append("FROM_SPEC=yes")
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("run", "-d", "--bundle", str(bundle.path), cid).returncode == 0

    result = berth_runc(
        "exec", "--env", "EXTRA=1", cid, "sh", "-c", "echo $FROM_SPEC $EXTRA; hostname; exit 5"
    )
    assert (result.returncode, result.stdout) == (5, "yes 1\nberth\n")

    process = dict(
        bundle.config["process"],
        args=["sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; id -u"],
    )
    process["user"] = {"uid": 1000, "gid": 1000}
    (tmp_path / "process.json").write_text(json.dumps(process))
    result = berth_runc("exec", "--process", str(tmp_path / "process.json"), cid)
    assert result.returncode == 0, result.stderr
    pidns, mntns, uid = result.stdout.splitlines()
    init = berth_runc.state(cid)["pid"]
    assert pidns == os.readlink(f"/proc/{init}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert mntns == os.readlink(f"/proc/{init}/ns/mnt")
    assert uid == "1000"

    exec_pid = tmp_path / "exec.pid"
    result = berth_runc.detached("exec", "-d", "--pid-file", str(exec_pid), cid, "sleep", "50")
    assert result.returncode == 0, result.stderr
    pids = json.loads(berth_runc("ps", "--format", "json", cid).stdout)
    assert int(exec_pid.read_text()) in pids
    assert berth_runc.state(cid)["pid"] in pids

    assert berth_runc("pause", cid).returncode == 0
    assert berth_runc.state(cid)["status"] == "paused"
    assert "paused" in berth_runc("list").stdout
    assert berth_runc("resume", cid).returncode == 0
    assert berth_runc.state(cid)["status"] == "running"
    assert berth_runc("list", "-q").stdout.split() == [cid]

    assert berth_runc("kill", "--all", cid, "KILL").returncode == 0
    wait_for(
        lambda: not json.loads(berth_runc("ps", "--format", "json", cid).stdout), what="all dead"
    )
    wait_for(lambda: berth_runc.state(cid)["status"] == "stopped", what="stopped")
    assert berth_runc("delete", cid).returncode == 0


def test_paused_container_is_deleted_with_force(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("run", "-d", "--bundle", str(bundle.path), cid).returncode == 0
    assert berth_runc("pause", cid).returncode == 0
    pid = berth_runc.state(cid)["pid"]
    assert berth_runc("delete", "-f", cid).returncode == 0
    wait_for(lambda: process_gone(pid), what="init gone")
    assert not cgroup_dirs(cid)


def test_spec_writes_a_config_that_runs(berth_runc: Runtime, tmp_path: Path, rootfs: Path):
    bundle_dir = tmp_path / "b"
    bundle_dir.mkdir()
    assert berth_runc("spec", "--bundle", str(bundle_dir)).returncode == 0
    config = json.loads((bundle_dir / "config.json").read_text())
    assert config["process"]["args"] == ["sh"]
    config["process"]["terminal"] = False
    config["process"]["args"] = ["echo", "ok"]
    config["root"]["path"] = str(rootfs)
    bundle = Bundle(bundle_dir, config)
    assert berth_runc.run(bundle).stdout == "ok\n"
    assert berth_runc("spec", "--bundle", str(bundle_dir)).returncode == 1  # exists already


def test_run_with_a_terminal_relays_the_pty(berth_runc: Runtime, bundle: Bundle):
    """Without --console-socket, `run` takes the pty itself and relays it, as runc does."""
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["args"] = ["sh", "-c", "tty; echo hi; exit 3"]
    result = berth_runc.run(bundle, stdin=subprocess.DEVNULL)
    expected = (3, "/dev/pts/0\nhi\n")  # text mode folds the pty's \r\n
    assert (result.returncode, result.stdout) == expected, result.stderr
    assert not os.listdir(berth_runc.root)


def test_exec_with_a_terminal_through_the_console_socket(
    berth_runc: Runtime, bundle: Bundle, tmp_path: Path
):
    import socket

    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("run", "-d", "-b", str(bundle.path), cid).returncode == 0
    path = str(tmp_path / "exec-console.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        result = berth_runc.detached(
            "exec", "-t", "-d", "--console-socket", path, cid, "sh", "-c", "tty; echo in-exec"
        )
        assert result.returncode == 0, result.stderr
        conn, _ = server.accept()
        with conn:
            _, (master,), _, _ = socket.recv_fds(conn, 1024, 1)
    output = b""
    try:
        while b"in-exec" not in output:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
    assert output.decode().split() == ["/dev/pts/0", "in-exec"]


def test_run_forwards_signals_to_the_container(berth_runc: Runtime, bundle: Bundle):
    bundle.config["process"]["args"] = [
        "sh",
        "-c",
        "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
    ]
    bundle.write()
    cid = berth_runc.new_id()
    command = [
        berth_runc.binary,
        "--root",
        str(berth_runc.root),
        "run",
        "-b",
        str(bundle.path),
        cid,
    ]
    running = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert running.stdout.readline() == "ready\n"
        running.send_signal(signal.SIGTERM)
        assert running.wait(timeout=30) == 3
        assert running.stdout.read() == "got-term\n"
    finally:
        running.kill()
        running.wait()


def test_update_changes_limits_of_a_running_container(
    berth_runc: Runtime, bundle: Bundle, tmp_path: Path
):
    bundle.config["process"]["args"] = ["sleep", "60"]
    bundle.config["linux"]["resources"]["pids"] = {"limit": 50}
    bundle.write()
    cid = berth_runc.new_id()
    assert berth_runc.detached("run", "-d", "-b", str(bundle.path), cid).returncode == 0
    assert berth_runc("update", "--pids-limit", "77", "--memory", "64m", cid).returncode == 0
    (tmp_path / "r.json").write_text(json.dumps({"cpu": {"shares": 256}}))
    assert berth_runc("update", "-r", str(tmp_path / "r.json"), cid).returncode == 0
    result = berth_runc(
        "exec",
        cid,
        "cat",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/cpu/cpu.shares",
    )
    assert result.stdout.split() == ["77", str(64 << 20), "256"], result.stderr
    bad = berth_runc("update", "--memory", "lots", cid)
    assert (bad.returncode, bad.stderr.count("\n")) == (1, 1)

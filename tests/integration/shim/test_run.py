"""Running containers through a shim: stdio, the json-file log, exit codes."""

from __future__ import annotations

import json
import os

import pytest

from berth import errors
from berth.shim import client
from tests.integration.shim.conftest import alive, log_entries, wait_for

pytestmark = pytest.mark.timeout(120)


def test_pipes_logs_and_exit_code(shims):
    shim = shims.run(["sh", "-c", "echo out; echo err >&2; printf partial; exit 7"])
    rec = shim.wait()
    assert rec.exit_code == 7 and rec.signal == 0 and not rec.oom_killed
    entries = log_entries(shims.workdir / f"{shim.state_dir.name}-json.log")
    assert [(e["log"], e["stream"]) for e in entries if e["stream"] == "stdout"] == [
        ("out\n", "stdout"),
        ("partial", "stdout"),
    ]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["err\n"]
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in entries)
    # the record on disk is the same, and the runtime's state is gone once the shim is
    assert client.exit_record(shim.state_dir) == rec
    wait_for(lambda: not alive(shim.shim_pid), what="shim exit")
    assert shims.rt("state", shim.state_dir.name).returncode != 0


def test_tty_output_goes_to_stdout_with_crlf(shims):
    shim = shims.run(["sh", "-c", "echo hi; echo there >&2; exit 3"], tty=True)
    assert shim.wait().exit_code == 3
    logs = "".join(e["log"] for e in log_entries(shims.workdir / f"{shim.state_dir.name}-json.log"))
    assert logs == "hi\r\nthere\r\n"


def test_start_after_attach_sees_all_output(shims):
    shim = shims.run(["echo", "first words"], start=False)
    assert shim.state().status == "created"
    stream = shim.attach()
    pid = shim.start()
    assert pid == shim.pid > 0
    out, err = stream.read_all()
    assert out == b"first words\n" and err == b""
    assert stream.end is not None and stream.end.reason == "exited" and stream.end.exit_code == 0
    assert shim.wait().exit_code == 0


def test_start_twice_is_a_conflict(runc_shims):
    shim = runc_shims.run(["sleep", "30"])
    with pytest.raises(errors.Conflict):
        shim.start()
    shim.kill(9)
    assert shim.wait().exit_code == 137


def test_direct_spawn_without_zygote(runc_shims):
    shim = runc_shims.run(["sh", "-c", "exit 0"], zygote=False)
    assert shim.wait().exit_code == 0
    # the shim runs in its own session, not ours
    wait_for(lambda: not alive(shim.shim_pid), what="shim exit")


def test_shim_is_in_its_own_session_and_subreaper(runc_shims):
    shim = runc_shims.run(["sleep", "30"])
    assert os.getsid(shim.shim_pid) == shim.shim_pid != os.getsid(0)
    with open(f"/proc/{shim.pid}/status") as f:
        ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
    assert ppid == shim.shim_pid  # the container's init was re-parented to its shim
    assert os.readlink(f"/proc/{shim.shim_pid}/cwd") == "/"  # pins no directory
    shim.kill(9)
    assert shim.wait().exit_code == 137


def test_create_failure_is_reported_and_cleaned(shims):
    spec = shims.spec(["/no/such/binary"])
    with pytest.raises(errors.InternalError) as info:
        client.spawn(spec)
    assert "no/such/binary" in str(info.value) or "no such file" in str(info.value).lower()
    facts = client.probe(client.state_dir(spec.socket_dir, spec.id))
    wait_for(lambda: not alive(facts.shim_pid), what="failed shim exit")
    assert shims.rt("state", spec.id).returncode != 0


def test_stdin_without_tty_until_closed(shims):
    shim = shims.run(["cat"], stdin_open=True)
    stream = shim.attach(stdin=True, stdin_once=True)
    stream.write(b"through the pipe\n")
    stream.close_stdin()
    out, _ = stream.read_all()
    assert out == b"through the pipe\n"
    assert shim.wait().exit_code == 0


def test_close_stdin_request(shims):
    shim = shims.run(["sh", "-c", "cat; echo done"], stdin_open=True)
    stream = shim.attach(stdin=True)
    stream.write(b"abc\n")
    shim.close_stdin()
    out, _ = stream.read_all()
    assert out == b"abc\ndone\n"
    assert shim.wait().exit_code == 0


def test_state_reports_running_container(shims):
    shim = shims.run(["sleep", "30"], tty=True, stdin_open=True)
    st = shim.state()
    assert (st.id, st.status, st.pid, st.shim_pid, st.tty) == (
        shim.state_dir.name,
        "running",
        shim.pid,
        shim.shim_pid,
        True,
    )
    assert st.exit is None
    assert json.loads((shim.state_dir / "shim.pid").read_text()) == shim.shim_pid
    shim.kill(9)
    assert shim.wait().signal == 9


def test_concurrent_spawns_share_one_zygote(runc_shims, tmp_path):
    """Spawns racing for a zygote that does not run yet: one starts, all succeed."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    fresh = Path(tempfile.mkdtemp(prefix="bshim-c-", dir="/tmp"))
    runc_shims.socket_dir = fresh
    try:
        specs = [runc_shims.spec(["sh", "-c", f"exit {i}"]) for i in range(8)]
        with ThreadPoolExecutor(8) as pool:
            shims = list(pool.map(client.spawn, specs))
        assert sorted(s.wait().exit_code for s in shims) == list(range(8))
        for s in shims:
            wait_for(lambda s=s: not alive(s.shim_pid), what="shim exit")
        zygotes = [pid for pid in _pids() if str(fresh) in _cmdline(pid)]
        assert zygotes == [client.zygote_pid(fresh)]
    finally:
        runc_shims.cleanup()
        runc_shims.ids.clear()
        client.stop_zygote(fresh)
        import shutil

        shutil.rmtree(fresh, ignore_errors=True)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_runtime_by_name_and_relative_paths(runc_shims, monkeypatch):
    """The shim works from "/": the client makes every path absolute for it."""
    import dataclasses

    spec = runc_shims.spec(["sh", "-c", "echo rel"])
    monkeypatch.chdir(runc_shims.workdir)
    spec = dataclasses.replace(
        spec,
        runtime="runc",
        bundle=spec.bundle.relative_to(runc_shims.workdir),
        log_path=spec.log_path.relative_to(runc_shims.workdir),
    )
    shim = client.spawn(spec)
    assert shim.wait().exit_code == 0
    assert log_entries(runc_shims.workdir / spec.log_path)[0]["log"] == "rel\n"

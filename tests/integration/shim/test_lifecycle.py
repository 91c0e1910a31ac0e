"""A shim's life beside the daemon's: kill, pause, the durable exit record,
surviving the daemon's death, and being killed by hand."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from berth import errors
from berth.shim import client
from tests.integration.shim.conftest import alive, log_entries, read_until, wait_for

pytestmark = pytest.mark.timeout(120)


def test_kill_through_the_runtime(shims):
    script = "trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done"
    shim = shims.run(["sh", "-c", script], start=False)
    stream = shim.attach()
    shim.start()
    read_until(stream, b"ready")  # PID 1 ignores TERM until its trap is set
    shim.kill(signal.SIGTERM)
    rec = shim.wait()
    assert rec.exit_code == 42
    with pytest.raises((errors.Conflict, errors.Unavailable)):
        shim.kill(signal.SIGKILL)


def test_sigkill_exit_code_is_137(shims):
    shim = shims.run(["sleep", "60"])
    shim.kill(signal.SIGKILL, all_processes=True)
    rec = shim.wait()
    assert (rec.exit_code, rec.signal) == (137, 9)


def test_pause_and_resume(runc_shims):
    shim = runc_shims.run(["sleep", "60"])
    shim.pause()
    assert shim.state().status == "paused"
    with pytest.raises(errors.Conflict):
        shim.pause()
    shim.resume()
    assert shim.state().status == "running"
    shim.kill(9)
    shim.wait()


def test_exit_record_is_on_disk_after_the_shim_is_gone(shims):
    shim = shims.run(["sh", "-c", "exit 12"])
    wait_for(lambda: not alive(shim.shim_pid), what="shim exit")
    assert not (shim.state_dir / "shim.sock").exists()
    record = json.loads((shim.state_dir / "exit.json").read_text())
    assert record["exit_code"] == 12 and record["finished_ns"] > 0
    assert shim.wait().exit_code == 12  # from the file: the shim does not answer any more
    facts = client.probe(shim.state_dir)
    assert not facts.shim_alive and not facts.answers and not facts.pid_alive
    assert facts.exit is not None and facts.exit.exit_code == 12
    client.remove_state(shim.state_dir)
    assert not shim.state_dir.exists()


PARENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from berth.shim import client
    spec = client.ShimSpec(
        id=sys.argv[1], bundle=Path(sys.argv[2]), runtime=sys.argv[3],
        runtime_root=Path(sys.argv[4]), socket_dir=Path(sys.argv[5]), tty=False,
        stdin_open=True, log_path=Path(sys.argv[6]))
    shim = client.spawn(spec, zygote=sys.argv[7] == "zygote")
    print(shim.shim_pid, shim.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("how", ["zygote", "direct"])
def test_shim_survives_its_daemon_and_reconnects(shims, how):
    cid, bundle = shims.bundle(["sh", "-c", "while read l; do echo got $l; done; exit 3"])
    log_path = shims.workdir / f"{cid}-json.log"
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT,
            cid,
            str(bundle),
            shims.runtime,
            str(shims.runtime_root),
            str(shims.socket_dir),
            str(log_path),
            how,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        shim_pid, pid = map(int, daemon.stdout.readline().split())
    finally:
        daemon.kill()
        daemon.wait()
        daemon.stdout.close()
    assert alive(shim_pid) and alive(pid)
    shim = client.connect(client.state_dir(shims.socket_dir, cid))
    assert (shim.shim_pid, shim.pid) == (shim_pid, pid)
    assert shim.state().status == "running"
    stream = shim.attach(stdin=True)
    stream.write(b"again\n")
    read_until(stream, b"got again\n")
    from tests.integration.shim.test_exec import process

    out, _ = shim.exec("after-restart", process(["echo", "exec ok"])).read_all()
    assert out == b"exec ok\n"
    shim.close_stdin()
    assert shim.wait().exit_code == 3
    assert [e["log"] for e in log_entries(log_path)] == ["got again\n"]


def test_shim_killed_by_hand_is_detected(runc_shims):
    shim = runc_shims.run(["sleep", "60"])
    os.kill(shim.shim_pid, signal.SIGKILL)
    wait_for(lambda: not alive(shim.shim_pid), what="shim death")
    facts = client.probe(shim.state_dir)
    assert (facts.shim_alive, facts.answers, facts.exit) == (False, False, None)
    assert facts.pid == shim.pid and facts.pid_alive  # the container itself still runs
    with pytest.raises(errors.Unavailable):
        shim.wait()
    with pytest.raises(errors.Unavailable):
        shim.state()


def test_oom_kill_is_recorded(runc_shims):
    limit = 16 << 20
    shim = runc_shims.run(
        ["sh", "-c", "x=a; while true; do x=$x$x; done"],
        resources={"memory": {"limit": limit, "swap": limit}},
    )
    rec = shim.wait(timeout=60)
    assert rec.exit_code == 137
    assert rec.oom_killed


def test_zygote_death_touches_no_shim(runc_shims):
    import shutil
    import tempfile
    from pathlib import Path

    fresh = Path(tempfile.mkdtemp(prefix="bshim-z-", dir="/tmp"))
    runc_shims.socket_dir = fresh
    try:
        shim = runc_shims.run(["sh", "-c", "read x; echo got $x; exit 4"], stdin_open=True)
        zygote = client.zygote_pid(fresh)
        assert zygote is not None
        os.kill(zygote, signal.SIGKILL)
        wait_for(lambda: not alive(zygote), what="zygote death")
        assert shim.state().status == "running"
        stream = shim.attach(stdin=True)
        stream.write(b"hello\n")
        out, _ = stream.read_all()
        assert out == b"got hello\n"
        assert shim.wait().exit_code == 4
        # the next spawn starts a new zygote
        again = runc_shims.run(["true"])
        assert again.wait().exit_code == 0
        assert client.zygote_pid(fresh) not in (None, zygote)
    finally:
        runc_shims.cleanup()
        runc_shims.ids.clear()
        client.stop_zygote(fresh)
        shutil.rmtree(fresh, ignore_errors=True)

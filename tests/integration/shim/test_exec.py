"""exec through the shim: output, exit codes, a pty of its own, detached runs."""

from __future__ import annotations

import copy
import os
import signal
from pathlib import Path

import pytest

from berth import errors
from berth.runtime.example import example_config
from tests.integration.shim.conftest import read_until
from tests.support.poll import wait_until

pytestmark = pytest.mark.timeout(120)


def process(args: list[str], tty: bool = False) -> dict:
    proc = copy.deepcopy(example_config()["process"])
    proc["args"] = args
    proc["terminal"] = tty
    return proc


@pytest.fixture
def running(shims):
    shim = shims.run(["sleep", "60"])
    yield shim
    shim.kill(9)
    shim.wait()


def test_exec_output_and_exit_code(running):
    stream = running.exec("e1", process(["sh", "-c", "echo out; echo err >&2; exit 4"]))
    assert stream.reply["pid"] > 0
    out, err = stream.read_all()
    assert (out, err) == (b"out\n", b"err\n")
    assert stream.end.reason == "exited" and stream.end.exit_code == 4
    st = running.exec_state("e1")
    assert (st.running, st.exit_code) == (False, 4)
    assert running.state().status == "running"  # the container outlives its exec


def test_exec_with_stdin(running):
    stream = running.exec("e-in", process(["cat"]), stdin=True)
    stream.write(b"fed through exec\n")
    stream.close_stdin()
    out, _ = stream.read_all()
    assert out == b"fed through exec\n" and stream.end.exit_code == 0


def test_exec_tty_resize(running):
    stream = running.exec("e-tty", process(["sh"], tty=True), tty=True, stdin=True)
    running.resize(41, 99, exec_id="e-tty")
    stream.write(b"stty size; exit 3\n")
    read_until(stream, b"41 99")
    stream.read_all()
    assert stream.end.exit_code == 3


def _catches(pid: int, sig: int) -> bool:
    """The exec'd shell (not the runtime's process before it execs: a Go runtime
    catches every signal) has a handler for `sig` (SigCgt in /proc/PID/status)."""
    if b"trap" not in Path(f"/proc/{pid}/cmdline").read_bytes():
        return False
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    return False


def test_detached_exec_reports_exit_later(running):
    # the exec ends only when the test signals it (no timing assumption): it is
    # running when the reply comes, however slow the machine is
    script = 'trap "exit 9" USR1; while :; do sleep 0.05; done'
    st = running.exec("e-d", process(["sh", "-c", script]), detach=True)
    assert st.running and st.pid > 0
    wait_until(lambda: _catches(st.pid, signal.SIGUSR1), 30, "the exec's trap")
    os.kill(st.pid, signal.SIGUSR1)
    done = running.exec_wait("e-d", timeout=30)
    assert (done.running, done.exit_code) == (False, 9)
    assert running.exec_state("e-d").exit_code == 9
    assert running.exec_wait("e-d").exit_code == 9  # at once, when it has exited


def test_exec_failures(running):
    with pytest.raises(errors.InternalError):
        running.exec("e-bad", process(["/no/such/thing"])).read_all()
    with pytest.raises(errors.NotFound):
        running.exec_state("never-made")


def test_exec_in_stopped_container_is_a_conflict(runc_shims):
    shim = runc_shims.run(["sleep", "60"], start=False)
    with pytest.raises(errors.Conflict):
        shim.exec("early", process(["true"]))
    shim.kill(9)
    shim.wait()

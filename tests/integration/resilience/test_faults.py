"""Faults: a shim killed by hand; berthd killed in the middle of `run` and `rm`.

After each, the daemon's store must agree with the host: every container it
lists can be inspected and removed, and nothing of any container is orphaned
(mounts under the roots, cgroups, shims, container processes).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

from .conftest import LABEL, alive, assert_clean, leftovers, poll


def _shim_pid(engine, cid: str) -> int:
    return int((engine.exec_root / "shims" / cid / "shim.pid").read_text())


def _consistent(engine) -> set[str]:
    """Every listed container inspects; every container dir on disk is listed."""
    ids = engine.ids()
    for cid in ids:
        st = engine.state(cid)
        assert st["Status"] in ("created", "running", "exited", "restarting", "dead"), st
        if st["Status"] == "running":
            assert alive(st["Pid"]), st
    on_disk = {e.name for e in (engine.data_root / "containers").iterdir() if len(e.name) == 64}
    assert on_disk <= ids, f"container dirs without a record: {on_disk - ids}"
    return ids


def test_shim_killed_by_hand(engine):
    cid = engine.run_d("busybox", "sh", "-c", "while :; do sleep 1; done")
    pid = engine.state(cid)["Pid"]
    shim = _shim_pid(engine, cid)
    assert shim != pid and alive(shim)
    os.kill(shim, signal.SIGKILL)
    st = poll(lambda: (s := engine.state(cid))["Status"] != "running" and s, 20)
    assert st, engine.state(cid)
    assert st["Status"] in ("exited", "dead") and not st["Running"]
    assert st["ExitCode"] != 0  # not a clean exit
    # the container's process does not outlive its shim unsupervised
    assert poll(lambda: not alive(pid), 15), f"container init {pid} still runs"
    assert engine.cli("ps", "-q", "--no-trunc").stdout.split().count(cid) == 0
    assert cid in engine.cli("ps", "-aq", "--no-trunc").stdout.split()
    engine.cli("rm", cid)
    assert cid not in engine.ids()
    assert_clean(engine, {cid})


def test_shim_killed_by_hand_restarts_under_always(engine):
    cid = engine.run_d("--restart", "always", "busybox", "sh", "-c", "while :; do sleep 1; done")
    pid = engine.state(cid)["Pid"]
    os.kill(_shim_pid(engine, cid), signal.SIGKILL)
    st = poll(lambda: (s := engine.state(cid))["Status"] == "running" and s["Pid"] != pid and s, 20)
    assert st, engine.state(cid)
    assert poll(lambda: not alive(pid), 15)
    assert engine.cli("exec", cid, "echo", "back").stdout == "back\n"
    engine.cli("rm", "-f", cid)
    assert_clean(engine, {cid})


def test_daemon_killed_during_run(engine):
    """kill -9 berthd at growing delays after `berth run -d` was sent."""
    seen: set[str] = set()
    mounts0, shims0 = len(engine.mounts()), len(engine.shims())
    for delay in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
        name = f"rs-crash-run-{int(delay * 1000)}-{os.getpid()}"
        engine.made.append(name)
        before = engine.known_ids()
        run = subprocess.Popen(
            engine.cli_argv(
                "run", "-d", "--name", name, "--label", LABEL, "--network", "none",
                "busybox", "sh", "-c", "while :; do sleep 1; done",
            ),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(delay)  # the point of the crash, not a synchronisation
        engine.kill9()
        run.communicate(timeout=30)
        seen |= engine.known_ids() - before
        engine.start()
        ids = _consistent(engine)
        seen |= ids - before
        for cid in ids & seen:
            assert engine.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
        assert not (engine.ids() & seen)
    assert seen, "no run got far enough to leave a trace"
    assert_clean(engine, seen)
    assert len(engine.mounts()) == mounts0 and len(engine.shims()) == shims0


def test_daemon_killed_during_rm(engine):
    cids = [engine.run_d("busybox", "sh", "-c", "while :; do sleep 1; done") for _ in range(6)]
    rm = subprocess.Popen(
        engine.cli_argv("rm", "-f", *cids), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # crash once some (not all) are gone
    poll(lambda: len(set(cids) - engine.ids()) >= 2, 30, 0.01)
    engine.kill9()
    rm.communicate(timeout=30)
    engine.start()
    remaining = _consistent(engine) & set(cids)
    for cid in set(cids) - remaining:
        assert not leftovers(engine, {cid}), leftovers(engine, {cid})
    for cid in remaining:
        st = engine.state(cid)
        assert st["Status"] in ("running", "exited", "dead"), st
        assert engine.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
    assert not engine.ids() & set(cids)
    assert_clean(engine, set(cids))


def test_rm_finishes_a_removal_interrupted_by_a_crash(engine):
    """A container left in `removing` (the crash hit after the state was saved)."""
    cid = engine.run_d("busybox", "sh", "-c", "while :; do sleep 1; done")
    engine.cli("stop", "-t", "0", cid)  # remove() saves `removing` once the process is gone
    engine.kill9()
    # the state a crash between "removing saved" and "record deleted" leaves
    con = sqlite3.connect(engine.data_root / "berth.db")
    try:
        (raw,) = con.execute("SELECT state FROM containers WHERE id = ?", (cid,)).fetchone()
        state = json.loads(raw)
        state["status"] = "removing"
        con.execute("UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), cid))
        con.commit()
    finally:
        con.close()
    engine.start()
    assert poll(lambda: cid not in engine.ids(), 30), engine.state(cid)
    assert_clean(engine, {cid})

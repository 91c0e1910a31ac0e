"""Restart policies through berth's CLI, with the daemon killed in the middle."""

from __future__ import annotations

import json
import os
import signal
import time
from urllib.parse import quote

import pytest

from .conftest import LABEL, poll


def _events(engine, cid: str, since: float) -> list[dict]:
    until = time.time()
    filters = quote(json.dumps({"container": [cid]}))
    status, raw = engine.request("GET", f"/events?since={since}&until={until}&filters={filters}")
    assert status == 200, raw
    text = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _starts(engine, cid: str, since: float) -> int:
    return sum(1 for e in _events(engine, cid, since) if e["Action"] == "start")


def _exited(engine, cid: str) -> dict | bool:
    st = engine.state(cid)
    return st["Status"] == "exited" and st


def _window(engine, cid: str, seconds: float = 1.0) -> None:
    """Watch for `seconds` (10x the first back-off): the container must stay exited."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert engine.state(cid)["Status"] == "exited", engine.state(cid)
        time.sleep(0.05)


def test_no_policy_never_restarts(engine):
    since = time.time()
    cid = engine.run_d("--restart", "no", "busybox", "sh", "-c", "exit 5")
    st = poll(lambda: _exited(engine, cid))
    assert st and st["ExitCode"] == 5
    _window(engine, cid)
    assert engine.inspect(cid)["RestartCount"] == 0
    assert _starts(engine, cid, since) == 1


def test_on_failure_ignores_success_and_counts_failures(engine):
    since = time.time()
    ok = engine.run_d("--restart", "on-failure:3", "busybox", "sh", "-c", "exit 0")
    bad = engine.run_d("--restart", "on-failure:2", "busybox", "sh", "-c", "exit 7")
    st = poll(lambda: _exited(engine, ok))
    assert st and st["ExitCode"] == 0
    _window(engine, ok)
    assert engine.inspect(ok)["RestartCount"] == 0

    doc = poll(
        lambda: (d := engine.inspect(bad))["RestartCount"] == 2 and _exited(engine, bad) and d
    )
    assert doc, engine.inspect(bad)
    _window(engine, bad)
    doc = engine.inspect(bad)
    assert doc["RestartCount"] == 2 and doc["State"]["ExitCode"] == 7
    assert doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert _starts(engine, bad, since) == 3  # the first run and two retries


def test_always_restarts_success_too_and_stop_is_final(engine):
    cid = engine.run_d("--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
    assert poll(lambda: engine.inspect(cid)["RestartCount"] >= 2)
    engine.cli("stop", "-t", "1", cid)
    st = poll(lambda: _exited(engine, cid))
    assert st
    count = engine.inspect(cid)["RestartCount"]
    _window(engine, cid, 1.5)
    assert engine.inspect(cid)["RestartCount"] == count
    # a manual start brings it back under its policy
    engine.cli("start", cid)
    assert poll(lambda: engine.inspect(cid)["RestartCount"] > count)


def test_unless_stopped_restarts_until_stopped(engine):
    cid = engine.run_d("--restart", "unless-stopped", "busybox", "sh", "-c", "sleep 0.2; exit 1")
    assert poll(lambda: engine.inspect(cid)["RestartCount"] >= 1)
    engine.cli("stop", "-t", "1", cid)
    assert poll(lambda: _exited(engine, cid))
    _window(engine, cid)


def _gaps(engine, cid: str, since: float) -> list[float]:
    """Seconds between each `die` and the next `start`."""
    gaps, last_die = [], None
    for e in _events(engine, cid, since):
        if e["Action"] == "die":
            last_die = e["timeNano"]
        elif e["Action"] == "start" and last_die is not None:
            gaps.append((e["timeNano"] - last_die) / 1e9)
            last_die = None
    return gaps


def test_backoff_grows_between_restarts(engine):
    """Docker's delay doubles from 100 ms: 0.1, 0.2, 0.4, 0.8, 1.6 s between die and start."""
    since = time.time()
    cid = engine.run_d("--restart", "always", "busybox", "sh", "-c", "exit 1")
    seen_restarting = poll(lambda: engine.state(cid)["Status"] == "restarting", 20, 0.02)
    assert seen_restarting
    gaps = poll(lambda: len(g := _gaps(engine, cid, since)) >= 5 and g, 30, 0.2)
    engine.cli("stop", "-t", "1", cid)
    assert gaps, _events(engine, cid, since)
    for n, gap in enumerate(gaps[:5]):
        assert gap >= 0.1 * 2**n * 0.9, gaps  # each delay at least doubles
    assert gaps[4] > gaps[1] and gaps[3] > gaps[0], gaps


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_policies_across_a_daemon_restart(engine, how):
    """berthd killed (-9) or stopped (TERM); containers exit while it is away; start it again on the same roots.

    always: comes back (also the one stopped by hand, as Docker); unless-stopped:
    comes back unless stopped by hand; on-failure: the crash (137) is a failure,
    so it restarts; no: stays exited with its real exit code.
    """
    loop = ["busybox", "sh", "-c", "while :; do sleep 1; done"]
    always = engine.run_d("--restart", "always", *loop)
    always_stopped = engine.run_d("--restart", "always", *loop)
    unless = engine.run_d("--restart", "unless-stopped", *loop)
    unless_stopped = engine.run_d("--restart", "unless-stopped", *loop)
    on_failure = engine.run_d("--restart", "on-failure:5", *loop)
    never = engine.run_d("--restart", "no", *loop)
    engine.cli("stop", "-t", "1", always_stopped, unless_stopped)
    pids = {c: engine.state(c)["Pid"] for c in (always, unless, on_failure, never)}

    engine.kill9() if how == "kill9" else engine.term()
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    assert poll(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids.values()), 10)
    engine.start()

    for cid in (always, unless, on_failure, always_stopped):
        st = poll(lambda c=cid: (s := engine.state(c))["Status"] == "running" and s, 30)
        assert st, (
            {
                always: "always",
                unless: "unless",
                on_failure: "on-failure",
                always_stopped: "always stopped",
            }[cid],
            engine.inspect(cid)["RestartCount"],
            json.dumps(engine.state(cid)),
        )
        assert st["Pid"] != pids.get(cid)
    st = poll(lambda: _exited(engine, never))
    assert st and st["ExitCode"] == 137
    assert engine.state(unless_stopped)["Status"] == "exited"
    _window(engine, unless_stopped, 0.5)
    # everything still works on the restored containers
    assert engine.cli("exec", always, "echo", "ok").stdout == "ok\n"
    engine.cli("stop", "-t", "1", always, unless, on_failure, always_stopped)


@pytest.mark.parametrize("how", ["kill9", "term"])
def test_daemon_restart_during_backoff(engine, how):
    """berthd goes away while a crash-looping container waits for its next start."""
    cid = engine.run_d("--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 1")
    assert poll(lambda: engine.inspect(cid)["RestartCount"] >= 3, 30)
    assert poll(lambda: engine.state(cid)["Status"] == "restarting", 30, 0.01)
    count = engine.inspect(cid)["RestartCount"]
    engine.restart(how)
    # it keeps its count and goes on crash-looping under its policy
    assert poll(lambda: engine.inspect(cid)["RestartCount"] > count, 30), engine.inspect(cid)
    engine.cli("stop", "-t", "1", cid)
    assert poll(lambda: _exited(engine, cid))
    _window(engine, cid)


def test_bad_policies_are_400_and_create_nothing(engine):
    before = engine.ids()
    dirs = set(os.listdir(engine.data_root / "containers"))
    cases = [
        ({"Name": "sometimes"}, "unknown policy"),
        ({"Name": "always", "MaximumRetryCount": 3}, "maximum retry count"),
        ({"Name": "unless-stopped", "MaximumRetryCount": 1}, "maximum retry count"),
        ({"Name": "on-failure", "MaximumRetryCount": -2}, "negative"),
    ]
    for policy, words in cases:
        body = {
            "Image": "busybox",
            "Cmd": ["true"],
            "Labels": {LABEL: ""},
            "HostConfig": {"NetworkMode": "none", "RestartPolicy": policy},
        }
        status, resp = engine.request("POST", "/containers/create?name=rs-bad-policy", body)
        assert status == 400, (policy, status, resp)
        assert words in resp["message"], resp
    # the CLI refuses them too (before asking the daemon, as docker's does)
    res = engine.cli("run", "-d", "--restart", "always:3", "busybox", "true", check=False)
    assert res.returncode == 125 and "always" in res.stderr
    res = engine.cli("create", "--restart", "sometimes", "busybox", "true", check=False)
    assert res.returncode == 125
    assert engine.ids() == before
    assert set(os.listdir(engine.data_root / "containers")) == dirs


@pytest.mark.parametrize("policy", ["always", "unless-stopped", "on-failure:2"])
def test_update_restart_policy(engine, policy):
    # the first run fails only once the policy is in place (a gate file), so a
    # loaded machine cannot let it exit before `update` lands
    gate = "while [ ! -f /go ]; do sleep 0.05; done; rm -f /go; exit 1"
    cid = engine.run_d("busybox", "sh", "-c", gate)
    engine.cli("update", "--restart", policy, cid)
    engine.cli("exec", cid, "touch", "/go")
    doc = engine.inspect(cid)
    assert doc["HostConfig"]["RestartPolicy"]["Name"] == policy.split(":")[0]
    assert poll(lambda: engine.inspect(cid)["RestartCount"] >= 1, 20)
    engine.cli("stop", "-t", "1", cid)

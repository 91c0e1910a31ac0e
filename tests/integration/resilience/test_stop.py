"""Stop semantics: the stop signal first, SIGKILL after the timeout."""

from __future__ import annotations

import time

from .conftest import poll

IGNORE_TERM = "trap '' TERM; echo ready; while :; do sleep 0.1; done"


def _ready(engine, cid: str) -> bool:
    return "ready" in engine.cli("logs", cid).stdout


def test_pid1_ignoring_sigterm_is_killed_after_t(engine):
    cid = engine.run_d("busybox", "sh", "-c", IGNORE_TERM)
    assert poll(lambda: _ready(engine, cid))
    t0 = time.monotonic()
    engine.cli("stop", "-t", "2", cid)
    waited = time.monotonic() - t0
    st = engine.state(cid)
    assert st["Status"] == "exited" and st["ExitCode"] == 137, st
    assert waited >= 2.0  # it really was given the timeout first
    assert not st["OOMKilled"]


def test_stop_timeout_from_create(engine):
    cid = engine.run_d("--stop-timeout", "1", "busybox", "sh", "-c", IGNORE_TERM)
    assert engine.inspect(cid)["Config"]["StopTimeout"] == 1
    assert poll(lambda: _ready(engine, cid))
    t0 = time.monotonic()
    engine.cli("stop", cid)
    assert time.monotonic() - t0 >= 1.0
    assert engine.state(cid)["ExitCode"] == 137


def test_stop_signal_flag_is_sent_first(engine):
    script = "trap 'exit 12' USR1; trap '' TERM; echo ready; while :; do sleep 0.1; done"
    cid = engine.run_d("--stop-signal", "SIGUSR1", "busybox", "sh", "-c", script)
    assert engine.inspect(cid)["Config"]["StopSignal"] == "SIGUSR1"
    assert poll(lambda: _ready(engine, cid))
    engine.cli("stop", "-t", "20", cid)
    assert engine.state(cid)["ExitCode"] == 12  # the handler ran: not SIGTERM, not SIGKILL


def test_stop_s_overrides_the_signal(engine):
    script = "trap 'exit 13' HUP; echo ready; while :; do sleep 0.1; done"
    cid = engine.run_d("busybox", "sh", "-c", script)
    assert poll(lambda: _ready(engine, cid))
    engine.cli("stop", "-s", "HUP", "-t", "20", cid)
    assert engine.state(cid)["ExitCode"] == 13


def test_stop_of_a_stopped_container_is_harmless(engine):
    cid = engine.run_d("busybox", "true")
    assert poll(lambda: engine.state(cid)["Status"] == "exited")
    assert engine.request("POST", f"/containers/{cid}/stop")[0] == 304
    assert engine.cli("stop", cid).returncode == 0

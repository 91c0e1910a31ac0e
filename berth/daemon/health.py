"""Health checks: HEALTHCHECK / --health-* run as execs in the container.

One monitor thread per running container with a check. Each probe is an exec
of the test command; its result goes into the state's Health object
(Status starting|healthy|unhealthy, FailingStreak, the last 5 results), and a
change of status emits `health_status: <status>`. Probe failures during the
start period do not count, as in Docker.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

from berth.daemon.state import Ev, Status, transition
from berth.daemon.timefmt import rfc3339_nano
from berth.errors import BerthError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
MAX_LOG = 5
MAX_OUTPUT = 4096


def test_command(check: dict[str, Any] | None) -> list[str] | None:
    """The argv of a health check, or None when there is none (or NONE)."""
    if not check:
        return None
    test = check.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test)


def _seconds(ns: Any, default: float) -> float:
    return ns / 1e9 if isinstance(ns, int) and ns > 0 else default


def start_monitor(svc: Any, cid: str) -> None:
    c = svc.store.get(cid)
    check = c.config.get("Healthcheck")
    argv = test_command(check)
    if argv is None:
        return
    svc._set_health(cid, {"Status": "starting", "FailingStreak": 0, "Log": []})
    t = threading.Thread(target=_monitor, args=(svc, cid, argv, check), daemon=True)
    t.start()


def _monitor(svc: Any, cid: str, argv: list[str], check: dict[str, Any]) -> None:
    interval = _seconds(check.get("Interval"), DEFAULT_INTERVAL)
    timeout = _seconds(check.get("Timeout"), DEFAULT_TIMEOUT)
    retries = int(check.get("Retries") or DEFAULT_RETRIES)
    start_period = _seconds(check.get("StartPeriod"), 0.0)
    started = time.monotonic()
    started_at = svc.store.get(cid).state.started_at
    while True:
        time.sleep(interval)
        try:
            c = svc.store.get(cid)
        except BerthError:
            return
        if c.state.status != Status.RUNNING or c.state.started_at != started_at:
            if c.state.status == Status.PAUSED:
                continue
            return
        begin = time.time_ns()
        code, output = _probe(svc, c, argv, timeout)
        end = time.time_ns()
        in_grace = time.monotonic() - started < start_period
        health = dict(c.state.health or {"Status": "starting", "FailingStreak": 0, "Log": []})
        entry = {"Start": rfc3339_nano(begin), "End": rfc3339_nano(end), "ExitCode": code,
                 "Output": output}  # fmt: skip
        health["Log"] = [*(health.get("Log") or []), entry][-MAX_LOG:]
        old = health.get("Status")
        if code == 0:
            health["Status"] = "healthy"
            health["FailingStreak"] = 0
        elif not (in_grace and old == "starting"):
            health["FailingStreak"] = int(health.get("FailingStreak", 0)) + 1
            if health["FailingStreak"] >= retries:
                health["Status"] = "unhealthy"
        svc._set_health(cid, health)
        if health["Status"] != old:
            svc._emit(c, f"health_status: {health['Status']}")


def _probe(svc: Any, c: Any, argv: list[str], timeout: float) -> tuple[int, str]:
    from berth.daemon.execs import Exec

    e = Exec(
        id=secrets.token_hex(32), container_id=c.id, cmd=argv, tty=False, attach_stdin=False,
        attach_stdout=True, attach_stderr=True, env=[], user="", workdir="", privileged=False,
        detach_keys="", console_size=None,
    )  # fmt: skip
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            from berth.daemon.process import exec_process

            handle = svc.tasks.exec(
                c.id, e.id, exec_process(svc, c, e), tty=False, stdin=False, attach=True,
                detach_keys="",
            )  # fmt: skip
            out, err = handle.stream.read_all()
            end = handle.stream.end
            result["code"] = end.exit_code if end is not None and end.exit_code is not None else -1
            result["output"] = (out + err)[:MAX_OUTPUT].decode(errors="replace")
        except Exception as exc:
            result["code"] = -1
            result["output"] = str(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return -1, f"Health check exceeded timeout ({timeout:g}s)"
    return int(result.get("code", -1)), str(result.get("output", ""))


def set_health(svc: Any, cid: str, health: dict[str, Any]) -> None:
    with svc._lock(cid):
        c = svc.store.get(cid)
        svc._save(c, transition(c.name, c.state, Ev.HEALTH, health=health))

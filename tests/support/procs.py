"""Processes on the host: alive or not, what started them, and ending them by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def alive(pid: int | None) -> bool:
    """The process exists and is not a zombie."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    close = stat.rindex(b")")
    return stat[close + 2 : close + 3] not in (b"Z", b"X")


def cmdline(pid: int | str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def pids_mentioning(marker: str | bytes) -> list[int]:
    """Live processes (not this one) whose command line contains `marker`: with a
    unique temporary root as marker, exactly what a test's daemon started."""
    want = marker.encode() if isinstance(marker, str) else marker
    me = os.getpid()
    return sorted(
        int(p)
        for p in os.listdir("/proc")
        if p.isdigit() and int(p) != me and want in cmdline(p) and alive(int(p))
    )


def kill(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL to its process group after `timeout`; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
            proc.wait(timeout)

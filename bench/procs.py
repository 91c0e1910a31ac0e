"""Process helpers the benchmarks share: a daemon's children, and stopping a daemon
with whatever it spawned (dockerd's containerd, berthd's zygote)."""

from __future__ import annotations

import os
import signal
import subprocess


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                pass
    return out


def stop_daemon(proc: subprocess.Popen) -> None:
    """TERM (KILL after 60 s), then KILL the children it had when asked to stop."""
    kids = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

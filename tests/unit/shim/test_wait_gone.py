"""`client.wait_gone`: how the daemon waits for a shim or the zygote to exit
(a pidfd, no polling)."""

from __future__ import annotations

import subprocess

from berth.shim.client import wait_gone


def test_returns_once_the_process_has_exited():
    proc = subprocess.Popen(["sleep", "0.2"])
    try:
        assert wait_gone(proc.pid, 30.0) is True
    finally:
        proc.wait()


def test_gives_up_at_the_timeout_while_it_runs():
    proc = subprocess.Popen(["sleep", "60"])
    try:
        assert wait_gone(proc.pid, 0.05) is False
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()

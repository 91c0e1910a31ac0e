"""The container's program starts with every signal at its default action and none
blocked (runc resets the ignored ones but keeps its caller's mask), even when its caller ignores or blocks some (Python itself
ignores SIGPIPE and SIGXFSZ): `yes | head -1` must end `yes` by SIGPIPE."""

from __future__ import annotations

import signal
import subprocess

from tests.integration.runtime.conftest import Bundle, Runtime, wait_for

SCRIPT = "grep -E '^Sig(Ign|Blk):' /proc/self/status; yes | head -1 >/dev/null; echo pipe=$?"


def _ignoring_caller() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})


def _fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t") for line in text.splitlines() if ":\t" in line)


def test_run_resets_ignored_and_blocked_signals(any_runtime: Runtime, bundle: Bundle) -> None:
    bundle.config["process"]["args"] = ["sh", "-c", SCRIPT]
    result = any_runtime.run(bundle, preexec_fn=_ignoring_caller)
    assert result.returncode == 0, result.stderr
    seen = _fields(result.stdout)
    assert seen["SigIgn"] == "0000000000000000", result.stdout
    if any_runtime.name == "berth-runc":  # runc passes its caller's mask on
        assert seen["SigBlk"] == "0000000000000000", result.stdout
    assert "pipe=0" in result.stdout  # the shell's pipeline status is head's


def test_exec_resets_them_too(any_runtime: Runtime, bundle: Bundle) -> None:
    bundle.config["process"]["args"] = ["sleep", "600"]
    bundle.write()
    cid = any_runtime.new_id()
    assert any_runtime.detached("create", "-b", str(bundle.path), cid).returncode == 0
    assert any_runtime("start", cid).returncode == 0
    wait_for(lambda: any_runtime.state(cid)["status"] == "running", what="the container")
    result = any_runtime(
        "exec", cid, "grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status",
        preexec_fn=_ignoring_caller, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = _fields(result.stdout)
    assert seen["SigIgn"] == "0000000000000000", result.stdout
    if any_runtime.name == "berth-runc":  # runc passes its caller's mask on
        assert seen["SigBlk"] == "0000000000000000", result.stdout

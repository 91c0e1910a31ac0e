"""`update` goes through the container's own runtime (`RUNTIME update --resources -`):
berth-runc and runc alike; growing memory past the old swap limit works (the
runtime orders the writes) and shrinking it back too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

V1 = (
    Path("/sys/fs/cgroup/memory").is_dir()
    and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
)
MB = 1 << 20


def _memory(cid: str) -> tuple[int, int]:
    d = Path("/sys/fs/cgroup/memory/berth") / cid
    return (
        int((d / "memory.limit_in_bytes").read_text()),
        int((d / "memory.memsw.limit_in_bytes").read_text()),
    )


RUNTIMES = ["berth-runc"] + (["runc"] if shutil.which("runc") else [])


@pytest.mark.skipif(not V1, reason="checks v1 memory files (this host's layout)")
@pytest.mark.skipif(
    not Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
    reason="the kernel has no swap accounting",
)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_update_grows_memory_past_the_old_swap_limit(engine, runtime):
    cid = engine.run_d("--runtime", runtime, "-m", "32m", "--memory-swap", "64m",
                       "busybox", "sleep", "300")  # fmt: skip
    assert _memory(cid) == (32 * MB, 64 * MB)
    engine.cli("update", "--memory", "128m", "--memory-swap", "256m", cid)
    assert _memory(cid) == (128 * MB, 256 * MB)
    engine.cli("update", "--memory", "16m", "--memory-swap", "24m", cid)
    assert _memory(cid) == (16 * MB, 24 * MB)
    hc = engine.inspect(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"]) == (16 * MB, 24 * MB)
    engine.cli("rm", "-f", cid)

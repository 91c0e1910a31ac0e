"""Load figures for berthd (and docker when it can run), through the docker CLI.

1. N create/start/rm cycles: the daemon's open fds and RSS before and after.
2. M idle running containers: daemon(s) + shims RSS, per container, and `ps` latency.
3. Restart latency: PID 1 crashes (`--restart always`) -> running again.

    .venv/bin/python bench/daemon_load.py [--cycles 500] [--idle 50] [--only berth]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.daemon import Engine, rss_kb, start_berth, start_docker
from tests.conftest import make_busybox_rootfs


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def tree_rss_mb(pids: list[int]) -> float:
    return sum(rss_kb(p) for p in pids) / 1024


def shim_pids(e: Engine, ids: list[str]) -> list[int]:
    out = set()
    for cid in ids:
        pid = int(e.cli("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip() or 0)
        if pid:
            with open(f"/proc/{pid}/stat") as f:
                out.add(int(f.read().rsplit(")", 1)[1].split()[1]))
    return sorted(out)


def cycles(e: Engine, n: int) -> dict[str, float]:
    main = e.proc.pid  # type: ignore[union-attr]
    for _ in range(10):
        e.cli("run", "--rm", "--network", "none", "busybox", "true")
    before = (fds(main), rss_kb(main) / 1024)
    for _ in range(n):
        cid = e.cli("create", "--network", "none", "busybox", "true").stdout.strip()
        e.cli("start", cid)
        e.cli("wait", cid)
        e.cli("rm", cid)
    time.sleep(1)
    after = (fds(main), rss_kb(main) / 1024)
    return {"fds before": before[0], "fds after": after[0], "RSS MB before": before[1],
            "RSS MB after": after[1]}  # fmt: skip


def idle(e: Engine, m: int) -> dict[str, float]:
    base = tree_rss_mb(e.daemon_pids())
    ids = [
        e.cli("run", "-d", "--network", "none", "busybox", "sleep", "3600").stdout.strip()
        for _ in range(m)
    ]
    time.sleep(2)
    daemon = tree_rss_mb(e.daemon_pids())
    shims = tree_rss_mb(shim_pids(e, ids))
    samples = []
    for _ in range(11):
        t0 = time.perf_counter()
        e.cli("ps")
        samples.append(time.perf_counter() - t0)
    e.cli("rm", "-f", *ids)
    return {
        f"daemon RSS MB ({m} running)": daemon,
        "shims RSS MB": shims,
        "per-container MB": (daemon - base + shims) / m,
        "ps s": statistics.median(samples),
    }


def restart_latency(e: Engine, runs: int = 7) -> float:
    name = f"crashy-{os.getpid()}"
    e.cli("run", "-d", "--name", name, "--restart", "always", "--network", "none", "busybox",
          "sh", "-c", "while [ ! -f /tmp/crash ]; do sleep 0.01; done; rm /tmp/crash; exit 1")  # fmt: skip
    samples = []
    for _ in range(runs):
        pid0 = e.cli("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
        time.sleep(0.3)
        t0 = time.perf_counter()
        e.cli("exec", name, "touch", "/tmp/crash", check=False)  # the crash may kill the exec
        while True:
            out = e.cli("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", name).stdout.split()
            if out and out[0] == "running" and out[1] not in ("0", pid0):
                break
            time.sleep(0.005)
        samples.append(time.perf_counter() - t0)
    e.cli("rm", "-f", name)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--idle", type=int, default=50)
    ap.add_argument("--only", choices=["berth", "docker"])
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-load-", dir="/tmp"))
    rootfs = make_busybox_rootfs(base / "rootfs")
    tar = base / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    try:
        for name, starter in (("docker", start_docker), ("berth", start_berth)):
            if args.only and name != args.only:
                continue
            root = base / name
            root.mkdir()
            e = starter(root)
            try:
                e.cli("import", str(tar), "busybox:latest")
                print(f"== {name}")
                for k, v in cycles(e, args.cycles).items():
                    print(f"  {args.cycles} cycles: {k:<16} {v:10.1f}")
                for k, v in idle(e, args.idle).items():
                    print(f"  idle: {k:<28} {v:10.3f}")
                print(f"  restart latency (crash -> running) s {restart_latency(e):.3f}")
            finally:
                e.stop()
    finally:
        subprocess.run(
            ["umount", "-l", str(base / "berth" / "exec" / "netns")], capture_output=True
        )
        subprocess.run(["rm", "-rf", str(base)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Restart latency: PID 1 of a `--restart always` container is killed with
SIGKILL from the host; how long until the engine reports it running again
(inspect: status running with a new pid), berthd versus a private dockerd.

Each sample is a fresh container, so both engines use their first back-off
delay (100 ms in both); inspect is polled every 10 ms through the API.

    .venv/bin/python bench/restart.py [-r 10] [--only berth|docker]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.overhead import BERTH_RUNTIME, Engine, engines


def _state(e: Engine, cid: str) -> dict:
    status, doc = e.api("GET", f"/containers/{cid}/json")
    assert status == 200, doc
    return doc["State"]  # type: ignore[index]


def one(e: Engine) -> float:
    cid = e.run(["sleep", "86400"], restart="always")
    deadline = time.monotonic() + 30
    while not (st := _state(e, cid))["Running"] or not st["Pid"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{e.kind}: {cid} did not start")
        time.sleep(0.01)
    pid = st["Pid"]
    time.sleep(0.5)  # the engine settles after the start (a benchmark, not a test)
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        st = _state(e, cid)
        if st["Status"] == "running" and st["Pid"] not in (0, pid):
            elapsed = time.perf_counter() - t0
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{e.kind}: {cid} did not come back: {st}")
        time.sleep(0.01)
    e.api("DELETE", f"/containers/{cid}?force=1")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-r", "--runs", type=int, default=10)
    ap.add_argument("--only", choices=["berth", "docker"])
    ap.add_argument("--berth-runtime", default="runc", help="runc (as docker) or berth-runc")
    args = ap.parse_args()
    BERTH_RUNTIME[0] = args.berth_runtime
    if os.geteuid() != 0:
        print("needs root")
        return 2
    kinds = [args.only] if args.only else ["berth", "docker"]
    base = Path(tempfile.mkdtemp(prefix="bench-restart-", dir="/tmp"))
    medians: dict[str, float] = {}
    running: list[Engine] = []
    try:
        running = engines(kinds, base)
        for e in running:
            samples = [one(e) for _ in range(args.runs)]
            medians[e.kind] = statistics.median(samples)
            print(
                f"{e.kind:8} crash -> running: median {medians[e.kind] * 1000:7.1f} ms"
                f"  min {min(samples) * 1000:7.1f}  max {max(samples) * 1000:7.1f}"
                f"  ({args.runs} runs)"
            )
    finally:
        for e in running:
            try:
                e.remove_all()
            finally:
                e.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    if len(medians) == 2:
        print(f"ratio berth/docker: {medians['berth'] / medians['docker']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

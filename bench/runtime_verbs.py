"""Each lifecycle verb of `berth-runc` versus `runc`, interleaved: what the shim
pays per `docker create/start/exec/stop/rm` when it executes the runtime.

    .venv/bin/python bench/runtime_verbs.py [--runs 15]      # as root

One round per run and runtime, on a fresh container id: `create` (the process
is `sleep 600`, stdio on /dev/null), `start`, `state`, `exec true` (in the
foreground, as `docker exec` waits for it), `kill KILL`, `delete --force`.
Rounds of the runtimes alternate so that load changes hit them alike. Prints
each verb's median per runtime and the ratio to runc's. A few warm-up rounds
come first (they also let Python write its bytecode caches).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_run import make_rootfs

from berth.runtime.example import example_config

VERBS = ("create", "start", "state", "exec", "kill", "delete")


def make_bundle(directory: Path) -> Path:
    bundle = directory / "bundle"
    make_rootfs(bundle / "rootfs")
    config = example_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sleep", "600"]
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


def timed(argv: list[str], env: dict) -> float:
    # stderr goes to a file, not a pipe: the container inherits the runtime's
    # stdio (runc's pass-through mode) and would hold a pipe open for 600 s.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        result = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(argv)} failed: {errors.read().decode().strip()}")
    return elapsed


def one_round(base: list[str], bundle: Path, cid: str, env: dict) -> dict[str, float]:
    return {
        "create": timed([*base, "create", "--bundle", str(bundle), cid], env),
        "start": timed([*base, "start", cid], env),
        "state": timed([*base, "state", cid], env),
        "exec": timed([*base, "exec", cid, "true"], env),
        "kill": timed([*base, "kill", cid, "KILL"], env),
        "delete": timed([*base, "delete", "--force", cid], env),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/runtime_verbs.py needs root", file=sys.stderr)
        return 1
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        work = Path(tmp)
        bundle = make_bundle(work)
        runtimes = {"berth-runc": [str(Path(sys.executable).parent / "berth-runc")]}
        if shutil.which("runc"):
            runtimes["runc"] = ["runc"]
        times = {name: {verb: [] for verb in VERBS} for name in runtimes}
        warmup = 2
        for i in range(warmup + args.runs):
            for name, argv in runtimes.items():
                base = [*argv, "--root", str(work / f"state-{name}")]
                result = one_round(base, bundle, f"verbs-{os.getpid()}-{i}", env)
                if i >= warmup:
                    for verb, value in result.items():
                        times[name][verb].append(value)
        print(f"{'verb':<8}" + "".join(f"{name:>22}" for name in runtimes))
        for verb in VERBS:
            base = statistics.median(times["runc"][verb]) if "runc" in times else None
            cells = []
            for name in runtimes:
                median = statistics.median(times[name][verb])
                ratio = f" ({median / base:.2f}x)" if base else ""
                cells.append(f"{median * 1000:8.1f} ms{ratio}")
            print(f"{verb:<8}" + "".join(f"{cell:>22}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`berth-runc run` of `true` versus `runc run` (and `crun run`), interleaved.

    .venv/bin/python bench/runtime_run.py [--runs 20]

Phase 1 runs on the host as it is (hybrid cgroups): berth-runc (the launcher
as installed, and on the venv's interpreter, see NO_SITE) and runc.
Phase 2, when crun is installed, runs all three inside a private mount
namespace where /sys/fs/cgroup/unified is unmounted, because Debian's crun 1.8
refuses hybrid hosts. Each run is a fresh container id on the same bundle;
runs of the runtimes alternate so that load changes hit them alike. Prints the
median and the ratio to runc's median. A few warm-up runs come first (they
also let Python write its bytecode caches).
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from berth.runtime.example import example_config
from tests.support.rootfs import make_busybox_rootfs

BUSYBOX = Path("/bin/busybox")


def make_rootfs(root: Path) -> None:
    """The tests' busybox root filesystem (bench needs /bin/busybox: busybox-static)."""
    if not BUSYBOX.exists():
        raise SystemExit("bench: /bin/busybox is missing (apt-get install busybox-static)")
    make_busybox_rootfs(root)


def make_bundle(directory: Path) -> Path:
    bundle = directory / "bundle"
    make_rootfs(bundle / "rootfs")
    config = example_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = ["true"]
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle


REPO = Path(__file__).resolve().parent.parent
# berth-runc on the venv's own interpreter with -S and the repository put on
# sys.path, for comparison with the installed launcher (which runs on the
# distribution's python3.X when it is the venv's version: scripts/install-deps.sh).
NO_SITE = [
    sys.executable,
    "-S",
    "-c",
    f"import sys; sys.path.insert(0, {str(REPO)!r}); sys.argv[0] = 'berth-runc';"
    " from berth.runtime.cli import main; sys.exit(main())",
]


def runtimes(work: Path, include_crun: bool) -> dict[str, list[str]]:
    found = {
        "berth-runc": [str(Path(sys.executable).parent / "berth-runc")],
        "berth-runc -S": NO_SITE,
    }
    if shutil.which("runc"):
        found["runc"] = ["runc"]
    if include_crun and shutil.which("crun"):
        found["crun"] = ["crun"]
    return {name: [*argv, "--root", str(work / f"state-{name}")] for name, argv in found.items()}


def measure(
    commands: dict[str, list[str]], bundle: Path, runs: int, warmup: int = 3
) -> dict[str, list[float]]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(warmup + runs):
        for name, argv in commands.items():
            cid = f"bench-{os.getpid()}-{i}"
            start = time.perf_counter()
            result = subprocess.run(
                [*argv, "run", "--bundle", str(bundle), cid],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                check=False,
            )
            elapsed = time.perf_counter() - start
            if result.returncode != 0:
                raise SystemExit(f"{name} run failed: {result.stderr.decode().strip()}")
            if i >= warmup:
                times[name].append(elapsed)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    base = statistics.median(times["runc"]) if "runc" in times else None
    for name, values in times.items():
        median = statistics.median(values)
        ratio = f"  {median / base:.2f}x runc" if base else ""
        print(
            f"  {name:<14} median {median * 1000:6.1f} ms  (n={len(values)}, min {min(values) * 1000:.1f}){ratio}"
        )


def phase_without_unified(bundle: Path, work: Path, runs: int) -> None:
    """In a child: private mount namespace, cgroup2 mount removed, all three runtimes."""
    pid = os.fork()
    if pid == 0:
        try:
            from berth.linux import mount, namespaces

            namespaces.unshare(namespaces.CLONE_NEWNS)
            mount.mount(None, "/", None, mount.MS_REC | mount.MS_SLAVE)
            mount.umount("/sys/fs/cgroup/unified", mount.MNT_DETACH)
            report(
                "phase 2: private mount namespace without /sys/fs/cgroup/unified",
                measure(runtimes(work, include_crun=True), bundle, runs),
            )
            sys.stdout.flush()
            os._exit(0)
        except BaseException as e:
            print(f"phase 2 failed: {e}", file=sys.stderr)
            os._exit(1)
    os.waitpid(pid, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/runtime_run.py needs root", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="berth-bench-") as tmp:
        work = Path(tmp)
        bundle = make_bundle(work)
        report(
            "phase 1: this host as it is (hybrid cgroups)",
            measure(runtimes(work, False), bundle, args.runs),
        )
        sys.stdout.flush()
        if shutil.which("crun"):
            phase_without_unified(bundle, work, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""berthd vs a private dockerd, side by side, through the same docker CLI.

Both daemons run at once and every operation is timed in turns (docker,
berth, docker, berth ...), so load from other work on the machine falls on
both alike.

Both engines get the same busybox rootfs (`docker import` of one tarball) and
run containers with `--network none`. Prints medians per operation and the
ratio berth/docker, plus each daemon's idle RSS.

    .venv/bin/python bench/daemon.py [--runs 15] [--ps-containers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from procs import children, stop_daemon

from tests.conftest import VENV_BIN, make_busybox_rootfs

DOCKER = "/usr/local/bin/docker"


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def shim_pss_mb(e: Engine, cid: str) -> float:
    """PSS of the supervisor of one running container (containerd-shim / berth-shim)."""
    pid = int(e.cli("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip())
    with open(f"/proc/{pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    return pss_kb(ppid) / 1024


class Engine:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.root = root
        self.sock = root / "d.sock"
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [DOCKER, "-H", f"unix://{self.sock}", *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.cli("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def daemon_pids(self) -> list[int]:
        assert self.proc is not None
        pids = [self.proc.pid]
        if self.name == "docker":
            pids += [p for p in children(self.proc.pid) if b"containerd" in _cmd(p)]
        return pids

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_daemon(self.proc)


def _cmd(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def start_docker(root: Path) -> Engine:
    e = Engine("docker", root)
    log = open(root / "log", "wb")  # noqa: SIM115
    e.proc = subprocess.Popen(
        [
            "dockerd", "--iptables=false", "--bridge=none", "--data-root", str(root / "root"),
            "--exec-root", str(root / "exec"), "-H", f"unix://{e.sock}", "--pidfile",
            str(root / "d.pid"),
        ],
        stdout=log, stderr=log,
    )  # fmt: skip
    e.wait_ready()
    return e


def start_berth(root: Path) -> Engine:
    e = Engine("berth", root)
    (root / "daemon.json").write_text("{}")
    log = open(root / "log", "wb")  # noqa: SIM115
    e.proc = subprocess.Popen(
        [
            str(VENV_BIN / "berthd"), "--data-root", str(root / "root"), "--exec-root",
            str(root / "exec"), "-H", f"unix://{e.sock}", "--config-file", str(root / "daemon.json"),
            "--bridge", "none",  # as dockerd --bridge=none: containers here use --network none
        ],
        stdout=log, stderr=log,
    )  # fmt: skip
    e.wait_ready()
    return e


def timed(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time per engine, the engines taking turns run after run
    (A, B, A, B ...), so a change of load on the shared machine hits both."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in samples.items()}


def bench(engines: list[Engine], runs: int, ps_containers: int) -> dict[str, dict[str, float]]:
    r: dict[str, dict[str, float]] = {e.name: {} for e in engines}

    def record(key: str, fn: Callable[[Engine], object]) -> None:
        for name, value in timed({e.name: (lambda e=e: fn(e)) for e in engines}, runs).items():
            r[name][key] = value

    net = ("--network", "none")
    for e in engines:
        e.cli("run", "--rm", *net, "busybox", "true")  # warm up
    record("run --rm true", lambda e: e.cli("run", "--rm", *net, "busybox", "true"))
    ids: dict[str, list[str]] = {e.name: [] for e in engines}

    # a PID 1 that exits on SIGTERM, so `stop` measures the stop, not the timeout
    waits = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]

    def run_d(e: Engine) -> None:
        ids[e.name].append(e.cli("run", "-d", *net, "busybox", *waits).stdout.strip())

    record("run -d", run_d)
    record("stop", lambda e: e.cli("stop", "-t", "5", ids[e.name].pop()))
    target = {
        e.name: e.cli("run", "-d", *net, "busybox", "sleep", "1000").stdout.strip() for e in engines
    }
    record("exec true", lambda e: e.cli("exec", target[e.name], "true"))
    record("inspect", lambda e: e.cli("inspect", target[e.name]))
    time.sleep(2)
    for e in engines:
        r[e.name]["idle RSS MB"] = sum(rss_kb(p) for p in e.daemon_pids()) / 1024
        r[e.name]["per-container PSS MB"] = shim_pss_mb(e, target[e.name])
        have = len(e.cli("ps", "-aq").stdout.split())
        for _ in range(max(0, ps_containers - have)):
            e.cli("create", *net, "busybox", "true")
    record(f"ps -a ({ps_containers})", lambda e: e.cli("ps", "-a"))
    for e in engines:
        e.cli("rm", "-f", *e.cli("ps", "-aq").stdout.split(), check=False)
    return r


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--ps-containers", type=int, default=100)
    ap.add_argument("--only", choices=["berth", "docker"])
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-daemon-", dir="/tmp"))
    rootfs = make_busybox_rootfs(base / "rootfs")
    tar = base / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        t.add(rootfs, arcname=".")
    engines: list[Engine] = []
    try:
        for name, starter in (("docker", start_docker), ("berth", start_berth)):
            if args.only and name != args.only:
                continue
            if name == "docker" and not shutil.which("dockerd"):
                continue
            root = base / name
            root.mkdir()
            e = starter(root)
            engines.append(e)
            e.cli("import", str(tar), "busybox:latest")
        results = bench(engines, args.runs, args.ps_containers)
    finally:
        for e in engines:
            e.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    print(
        f"load average {os.getloadavg()[0]:.2f} (both engines run side by side, turns interleaved)"
    )
    keys = list(next(iter(results.values())).keys())
    print(f"{'operation':<22}" + "".join(f"{n:>12}" for n in results) + "   berth/docker")
    for k in keys:
        row = f"{k:<22}" + "".join(f"{results[n][k]:>12.3f}" for n in results)
        if "berth" in results and "docker" in results and results["docker"][k]:
            row += f"   {results['berth'][k] / results['docker'][k]:>8.2f}x"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

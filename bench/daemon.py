"""berthd vs a private dockerd, side by side, through the same docker CLI.

Both engines get the same busybox rootfs (`docker import` of one tarball) and
run containers with `--network none`. Prints medians per operation and the
ratio berth/docker, plus each daemon's idle RSS.

    .venv/bin/python bench/daemon.py [--runs 15] [--ps-containers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except OSError:
                pass
    return out


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
        kids = children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass


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
        ],
        stdout=log, stderr=log,
    )  # fmt: skip
    e.wait_ready()
    return e


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def bench(e: Engine, runs: int, ps_containers: int) -> dict[str, float]:
    r: dict[str, float] = {}
    net = ("--network", "none")
    e.cli("run", "--rm", *net, "busybox", "true")  # warm up
    r["run --rm true"] = timed(lambda: e.cli("run", "--rm", *net, "busybox", "true"), runs)
    ids: list[str] = []

    # a PID 1 that exits on SIGTERM, so `stop` measures the stop, not the timeout
    waits = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]

    def run_d() -> None:
        ids.append(e.cli("run", "-d", *net, "busybox", *waits).stdout.strip())

    r["run -d"] = timed(run_d, runs)
    pending = list(ids)
    r["stop"] = timed(lambda: e.cli("stop", "-t", "5", pending.pop()), runs)
    target = e.cli("run", "-d", *net, "busybox", "sleep", "1000").stdout.strip()
    r["exec true"] = timed(lambda: e.cli("exec", target, "true"), runs)
    r["inspect"] = timed(lambda: e.cli("inspect", target), runs)
    time.sleep(2)
    r["idle RSS MB"] = sum(rss_kb(p) for p in e.daemon_pids()) / 1024
    r["per-container PSS MB"] = shim_pss_mb(e, target)
    have = len(e.cli("ps", "-aq").stdout.split())
    for _ in range(max(0, ps_containers - have)):
        e.cli("create", *net, "busybox", "true")
    r[f"ps -a ({ps_containers})"] = timed(lambda: e.cli("ps", "-a"), runs)
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
    results: dict[str, dict[str, float]] = {}
    try:
        for name, starter in (("docker", start_docker), ("berth", start_berth)):
            if args.only and name != args.only:
                continue
            if name == "docker" and not shutil.which("dockerd"):
                continue
            root = base / name
            root.mkdir()
            e = starter(root)
            try:
                e.cli("import", str(tar), "busybox:latest")
                results[name] = bench(e, args.runs, args.ps_containers)
            finally:
                e.stop()
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
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

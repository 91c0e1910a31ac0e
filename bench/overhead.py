"""Per-container overhead: berthd + shims versus dockerd + containerd + shims.

Both engines are private (temporary roots and sockets; dockerd with
--iptables=false --bridge=none) and run the same busybox image (made by berth's
own route, then `docker load`ed from `berth save`). For each engine:

1. the supervision side's memory with 0 and with N idle containers (`sleep`),
   as PSS (from /proc/PID/smaps_rollup; shared pages split fairly) and RSS:
   daemon(s) + shims (+ berth's shim zygote); the containers' own processes are
   not counted. Per container = (with N - with 0) / N.
2. with M running containers: the daemon's RSS, the shims' total RSS and PSS,
   and the latency of `ps` (the CLI, and GET /containers/json through the API).

    .venv/bin/python bench/overhead.py [-n 50] [-m 200] [--only berth|docker]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DOCKER_CLI = "/usr/local/bin/docker"
BERTH_RUNTIME = ["runc"]  # berthd's --default-runtime (runc: the same runtime as docker's)


# ---- /proc -------------------------------------------------------------------------------


def proc_kb(pid: int, key: str, name: str = "smaps_rollup") -> int:
    try:
        with open(f"/proc/{pid}/{name}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    return proc_kb(pid, "Pss")


def rss_kb(pid: int) -> int:
    return proc_kb(pid, "VmRSS", "status")


def cmdline(pid: int | str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def pids_where(pred) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and pred(int(p), cmdline(p))]


# ---- a private engine ----------------------------------------------------------------------


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=120)
        self.path_ = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path_)


class Engine:
    """A private berthd or dockerd on `root`; talk to it with `api` or `cli`."""

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.root = root
        self.sock = root / "d.sock"
        self.exec_root = root / "exec"
        self.proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> Engine:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "log", "ab")  # noqa: SIM115 (kept open for the daemon's life)
        if self.kind == "berth":
            (self.root / "daemon.json").write_text("{}")
            argv = [
                str(VENV_BIN / "berthd"), "--data-root", str(self.root / "data"),
                "--exec-root", str(self.exec_root), "-H", self.host,
                "--config-file", str(self.root / "daemon.json"), "--default-runtime", BERTH_RUNTIME[0],
            ]  # fmt: skip
        else:
            argv = [
                "dockerd", "--iptables=false", "--bridge=none", "--data-root",
                str(self.root / "data"), "--exec-root", str(self.exec_root), "-H", self.host,
                "--pidfile", str(self.root / "d.pid"), "--config-file", self._docker_cfg(),
            ]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {(self.root / 'log').read_text()[-2000:]}")
            try:
                if self.api("GET", "/_ping")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not answer /_ping")

    def _docker_cfg(self) -> str:
        path = self.root / "dockerd.json"
        path.write_text("{}")
        return str(path)

    def api(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        conn = _Unix(str(self.sock))
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        exe = str(VENV_BIN / "berth") if self.kind == "berth" else DOCKER_CLI
        return subprocess.run([exe, "-H", self.host, *args], capture_output=True, text=True,
                              check=check, timeout=300)  # fmt: skip

    def run(self, cmd: list[str], restart: str = "no") -> str:
        body = {
            "Image": "busybox:latest",
            "Cmd": cmd,
            "HostConfig": {"NetworkMode": "none", "RestartPolicy": {"Name": restart}},
        }
        status, resp = self.api("POST", "/containers/create", body)
        assert status == 201, resp
        cid = resp["Id"]  # type: ignore[index]
        status, resp = self.api("POST", f"/containers/{cid}/start")
        assert status == 204, resp
        return cid

    def remove_all(self) -> None:
        _, docs = self.api("GET", "/containers/json?all=1")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda d: self.api("DELETE", f"/containers/{d['Id']}?force=1"), docs))

    # the supervision side's processes
    def daemon_pids(self) -> list[int]:
        assert self.proc is not None
        pids = [self.proc.pid]
        if self.kind == "docker":  # containerd, started by dockerd for this exec root
            want = str(self.exec_root).encode()
            pids += pids_where(lambda p, c: b"containerd\x00" in c + b"\x00" and want in c
                               and b"shim" not in c)  # fmt: skip
        return pids

    def shim_pids(self) -> list[int]:
        want = str(self.exec_root).encode()
        if self.kind == "docker":
            return pids_where(lambda p, c: b"containerd-shim" in c and want in c)
        return pids_where(lambda p, c: b"berth.shim" in c and want in c)  # + the zygote

    def stop(self) -> None:
        if self.proc is None:
            return
        with_kids = self.daemon_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in with_kids[1:] + self.shim_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        with open("/proc/self/mountinfo") as f:
            mounts = [ln.split()[4] for ln in f if ln.split()[4].startswith(str(self.root))]
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)


def engines(kinds: list[str], base: Path) -> list[Engine]:
    """Start the engines asked for (docker only when dockerd is installed), with busybox."""
    out = []
    berth = Engine("berth", base / "berth").start()
    out.append(berth)
    status, resp = berth.api("POST", "/berth/images/busybox?tag=busybox:latest")
    assert status == 201, resp
    if "docker" in kinds and shutil.which("dockerd") and os.path.exists(DOCKER_CLI):
        tar = base / "busybox.tar"
        berth.cli("save", "-o", str(tar), "busybox:latest")
        docker = Engine("docker", base / "docker").start()
        docker.cli("load", "-i", str(tar))
        out.append(docker)
    elif "docker" in kinds:
        print("docker: dockerd or the docker CLI is not installed; berth only")
    if "berth" not in kinds:
        berth.stop()
        out.remove(berth)
    return out


# ---- the measurements ---------------------------------------------------------------------


def supervision(e: Engine) -> dict[str, float]:
    daemons, shims = e.daemon_pids(), e.shim_pids()
    return {
        "daemon PSS": sum(map(pss_kb, daemons)) / 1024,
        "daemon RSS": sum(map(rss_kb, daemons)) / 1024,
        "shims PSS": sum(map(pss_kb, shims)) / 1024,
        "shims RSS": sum(map(rss_kb, shims)) / 1024,
        "shims": len(shims),
    }


def start_idle(e: Engine, n: int) -> list[str]:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: e.run(["sleep", "86400"]), range(n)))


def settle() -> None:
    time.sleep(2.0)  # let start-up garbage be freed before sampling (a benchmark, not a test)


def ps_latency(e: Engine, runs: int = 15) -> tuple[float, float]:
    cli, api = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        e.cli("ps")
        cli.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        e.api("GET", "/containers/json")
        api.append(time.perf_counter() - t0)
    return statistics.median(cli) * 1000, statistics.median(api) * 1000


def measure(e: Engine, n: int, m: int) -> dict[str, float]:
    settle()
    zero = supervision(e)
    start_idle(e, n)
    settle()
    at_n = supervision(e)
    per_pss = (at_n["daemon PSS"] + at_n["shims PSS"] - zero["daemon PSS"] - zero["shims PSS"]) / n
    per_rss = (at_n["daemon RSS"] + at_n["shims RSS"] - zero["daemon RSS"] - zero["shims RSS"]) / n
    out = {
        "idle daemon PSS MB": zero["daemon PSS"],
        f"{n}: daemon PSS MB": at_n["daemon PSS"],
        f"{n}: shims PSS MB": at_n["shims PSS"],
        f"{n}: per container PSS MB": per_pss,
        f"{n}: per container RSS MB": per_rss,
    }
    if m > n:
        start_idle(e, m - n)
        settle()
        at_m = supervision(e)
        cli_ms, api_ms = ps_latency(e)
        out.update({
            f"{m}: daemon RSS MB": at_m["daemon RSS"],
            f"{m}: shims total RSS MB": at_m["shims RSS"],
            f"{m}: shims total PSS MB": at_m["shims PSS"],
            f"{m}: ps CLI ms": cli_ms,
            f"{m}: GET /containers/json ms": api_ms,
        })  # fmt: skip
    e.remove_all()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=50, help="idle containers for the per-container figure")
    ap.add_argument("-m", type=int, default=200, help="containers for the load figures")
    ap.add_argument("--only", choices=["berth", "docker"])
    ap.add_argument("--berth-runtime", default="runc", help="runc (as docker) or berth-runc")
    args = ap.parse_args()
    BERTH_RUNTIME[0] = args.berth_runtime
    if os.geteuid() != 0:
        print("needs root")
        return 2
    kinds = [args.only] if args.only else ["berth", "docker"]
    base = Path(tempfile.mkdtemp(prefix="bench-overhead-", dir="/tmp"))
    results: dict[str, dict[str, float]] = {}
    running: list[Engine] = []
    try:
        running = engines(kinds, base)
        for e in running:
            results[e.kind] = measure(e, args.n, args.m)
    finally:
        for e in running:
            try:
                e.remove_all()
            finally:
                e.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    keys = list(next(iter(results.values())).keys())
    names = list(results)
    print(
        f"{'':36}"
        + "".join(f"{n:>12}" for n in names)
        + ("       ratio" if len(names) == 2 else "")
    )
    for k in keys:
        vals = [results[n].get(k, float("nan")) for n in names]
        line = f"{k:36}" + "".join(f"{v:12.2f}" for v in vals)
        if len(vals) == 2 and vals[1]:
            line += f"{vals[0] / vals[1]:12.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`exec true` in a running container: berthd vs a private dockerd, with a breakdown.

Both daemons run at once on the same busybox tarball; every round runs, in turn,
`docker exec` against dockerd, against berthd (a berth-runc container) and against
berthd (a `--runtime runc` container), so load on this shared machine hits all
alike. Then, per layer, what one exec costs on berth:

- the docker CLI's four API calls, timed one by one over the raw socket
  (container inspect, exec create, exec start hijacked until the end, exec inspect),
  for dockerd and berthd;
- the shim alone (`berth.shim.client` exec + read to the end, no daemon);
- the runtime alone (`RUNTIME exec --detach --process P ID`, as an executed
  runtime runs).

`--runtime berth-runc-executed` is berth-runc behind a shell wrapper, which the
shim executes per call instead of forking it (the cost before the shim learned to).

    .venv/bin/python bench/exec.py [--runs 15] [--run-rm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from procs import stop_daemon

from tests.conftest import VENV_BIN, make_busybox_rootfs

DOCKER = "/usr/local/bin/docker"
NET = ("--network", "none")


class Daemon:
    def __init__(self, name: str, root: Path, argv: list[str]) -> None:
        self.name = name
        self.root = root
        self.sock = root / "d.sock"
        log = open(root / "log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*argv, "-H", f"unix://{self.sock}"], stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while self.cli("version", check=False).returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"{name} did not start; see {root / 'log'}")
            time.sleep(0.1)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [DOCKER, "-H", f"unix://{self.sock}", *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def stop(self) -> None:
        stop_daemon(self.proc)


# ---- the API calls the docker CLI makes, one by one -----------------------------------------


def _request(sock_path: Path, method: str, path: str, body: dict | None = None) -> bytes:
    """One HTTP/1.1 request; the whole answer (headers + body) until the server closes or
    the body is complete. A hijacked exec start is read until the stream's end."""
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} /v1.41{path} HTTP/1.1\r\nHost: docker\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    if path.endswith("/start"):
        head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(sock_path))
    s.sendall(head.encode() + b"\r\n" + data)
    buf = b""
    hijacked = path.endswith("/start")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        if not hijacked and b"\r\n\r\n" in buf:
            headers, _, rest = buf.partition(b"\r\n\r\n")
            length = _content_length(headers)
            if length is not None and len(rest) >= length:
                break
            if length is None and rest.endswith(b"0\r\n\r\n"):
                break
    s.close()
    return buf


def _content_length(headers: bytes) -> int | None:
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return None


def _body(answer: bytes) -> dict:
    try:
        return json.loads(answer.partition(b"\r\n\r\n")[2])
    except ValueError:
        raise RuntimeError(f"not a JSON answer: {answer[:300]!r}") from None


def api_breakdown(d: Daemon, cid: str) -> dict[str, float]:
    """Seconds per step of one `docker exec CID true`, as the CLI makes them."""
    t = [time.perf_counter()]
    _request(d.sock, "GET", f"/containers/{cid}/json")
    t.append(time.perf_counter())
    cfg = {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True}
    created = _body(_request(d.sock, "POST", f"/containers/{cid}/exec", cfg))
    if "Id" not in created:
        raise RuntimeError(f"{d.name}: exec create: {created}")
    exec_id = created["Id"]
    t.append(time.perf_counter())
    _request(d.sock, "POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
    t.append(time.perf_counter())
    code = _body(_request(d.sock, "GET", f"/exec/{exec_id}/json"))["ExitCode"]
    t.append(time.perf_counter())
    assert code == 0, code
    names = ("container inspect", "exec create", "exec start (to the end)", "exec inspect")
    return {n: t[i + 1] - t[i] for i, n in enumerate(names)}


# ---- below the daemon ---------------------------------------------------------------------


def shim_exec(state_dir: Path, process: dict, n: int) -> float:
    from berth.shim import client

    shim = client.connect(state_dir)
    t0 = time.perf_counter()
    stream = shim.exec(f"bench-{os.getpid()}-{n}", process)
    stream.read_all()
    assert stream.end is not None and stream.end.exit_code == 0, stream.end
    stream.close()
    return time.perf_counter() - t0


def runtime_exec(runtime: str, root: Path, cid: str, process_file: Path, tmp: Path) -> float:
    pid_file = tmp / "exec.pid"
    argv = [runtime, "--root", str(root), "--log", str(tmp / "rt.log"), "--log-format", "json"]
    argv += ["exec", "--process", str(process_file), "--pid-file", str(pid_file), "--detach", cid]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _full_id(d: Daemon, ref: str) -> str:
    return d.cli("inspect", "-f", "{{.Id}}", ref).stdout.strip()


def _exec_process(berth_root: Path, cid: str) -> dict:
    with open(berth_root / "root" / "containers" / cid / "bundle" / "config.json") as f:
        proc = json.load(f)["process"]
    proc["args"] = ["true"]
    proc["terminal"] = False
    return proc


def med(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--run-rm", action="store_true", help="also time `run --rm true`")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-exec-", dir="/tmp"))
    tar = base / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        t.add(make_busybox_rootfs(base / "rootfs"), arcname=".")
    daemons: list[Daemon] = []
    try:
        (base / "docker").mkdir()
        (base / "berth").mkdir()
        (base / "berth" / "daemon.json").write_text("{}")
        if shutil.which("dockerd"):
            r = base / "docker"
            argv = ["dockerd", "--iptables=false", "--bridge=none", "--pidfile", str(r / "d.pid")]
            argv += ["--data-root", str(r / "root"), "--exec-root", str(r / "exec")]
            daemons.append(Daemon("docker", r, argv))
        r = base / "berth"
        # berth-runc behind a wrapper the shim does not recognise: executed per call,
        # as before the shim learned to fork it (berth.shim.ociruntime)
        wrapper = base / "berth-runc-executed"
        wrapper.write_text(f'#!/bin/sh\nexec {VENV_BIN / "berth-runc"} "$@"\n')
        wrapper.chmod(0o755)
        argv = [str(VENV_BIN / "berthd"), "--config-file", str(r / "daemon.json")]
        argv += ["--add-runtime", f"berth-runc-executed={wrapper}"]
        argv += ["--data-root", str(r / "root"), "--exec-root", str(r / "exec")]
        berth = Daemon("berth", r, argv)
        daemons.append(berth)
        targets: list[tuple[str, Daemon, str]] = []
        for d in daemons:
            d.cli("import", str(tar), "busybox:latest")
            cid = d.cli("run", "-d", *NET, "busybox", "sleep", "100000").stdout.strip()
            targets.append((f"{d.name} exec true" + (" (berth-runc)" * (d is berth)), d, cid))
        for runtime in ("berth-runc-executed", "runc"):
            cid = berth.cli(
                "run", "-d", *NET, "--runtime", runtime, "busybox", "sleep", "100000"
            ).stdout.strip()
            targets.append((f"berth exec true (--runtime {runtime})", berth, cid))
        runc_cid = targets[-1][2]
        for _, d, cid in targets:  # warm up
            d.cli("exec", cid, "true")

        cli: dict[str, list[float]] = {name: [] for name, _, _ in targets}
        for _ in range(args.runs):
            for name, d, cid in targets:
                t0 = time.perf_counter()
                d.cli("exec", cid, "true")
                cli[name].append(time.perf_counter() - t0)

        # the same fork-instead-of-exec applies to create/start/delete: `run --rm`
        runs: dict[str, list[float]] = {}
        engines = [(d.name, d, ()) for d in daemons]
        engines.append(
            ("berth (--runtime berth-runc-executed)", berth, ("--runtime", "berth-runc-executed"))
        )
        for _ in range(args.runs if args.run_rm else 0):
            for name, d, extra in engines:
                t0 = time.perf_counter()
                d.cli("run", "--rm", *NET, *extra, "busybox", "true")
                runs.setdefault(f"{name} run --rm true", []).append(time.perf_counter() - t0)

        steps: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.runs):
            for name, d, cid in targets:
                for step, secs in api_breakdown(d, cid).items():
                    steps.setdefault(name, {}).setdefault(step, []).append(secs)

        below: dict[str, list[float]] = {}
        layers = (
            ("berth-runc forked", targets[-3][2], "berth-runc"),
            ("berth-runc executed", targets[-2][2], None),
            ("runc", runc_cid, "runc"),
        )
        for n in range(args.runs):
            for label, ref, rt in layers:
                cid = _full_id(berth, ref)
                proc = _exec_process(base / "berth", cid)
                sdir = base / "berth" / "exec" / "shims" / cid
                below.setdefault(f"shim exec ({label})", []).append(shim_exec(sdir, proc, n))
                if rt is None:
                    continue
                pfile = base / f"process-{label}.json"
                pfile.write_text(json.dumps(proc))
                rt_path = (
                    str(VENV_BIN / "berth-runc") if rt == "berth-runc" else shutil.which("runc")
                )
                rt_root = base / "berth" / "exec" / "runtime" / rt
                below.setdefault(f"runtime exec -d, executed ({rt})", []).append(
                    runtime_exec(rt_path, rt_root, cid, pfile, base)
                )
    finally:
        for d in daemons:
            d.cli("rm", "-f", *d.cli("ps", "-aq", check=False).stdout.split(), check=False)
            d.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)

    load = os.getloadavg()
    print(f"medians of {args.runs} interleaved runs; load average {load[0]:.2f} {load[1]:.2f}")
    ref = med(cli[targets[0][0]]) if daemons[0].name == "docker" else None
    for name, samples in cli.items():
        ratio = f"   {med(samples) / ref:.2f}x docker" if ref else ""
        print(f"  {name:<48} {med(samples):8.1f} ms{ratio}")
    docker_run = runs.get("docker run --rm true")
    for name, samples in runs.items():
        ratio = f"   {med(samples) / med(docker_run):.2f}x docker" if docker_run else ""
        print(f"  {name:<48} {med(samples):8.1f} ms{ratio}")
    print("API calls as the docker CLI makes them (raw socket, ms):")
    names = list(next(iter(steps.values())))
    print(f"  {'':<48}" + "".join(f"{n[:14]:>16}" for n in names) + f"{'sum':>10}")
    for name, per in steps.items():
        cells = "".join(f"{med(per[n]):16.1f}" for n in names)
        total = sum(med(per[n]) for n in names)
        print(f"  {name:<48}{cells}{total:10.1f}")
    print("below the daemon (ms):")
    for name, samples in below.items():
        print(f"  {name:<48} {med(samples):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

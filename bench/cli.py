"""CLI start-up: `berth` vs the `docker` CLI, medians and ratios.

Times, N runs each (default 30), the wall time of:
  --version          (no daemon contact)
  ps                 (an empty daemon: one list call, plus version negotiation)
  images -q          (idem)
  inspect busybox    (one lookup)
  run --rm busybox /busybox true (create, attach, wait, start: the daemon's time
                     mostly; the imported image holds /busybox alone, no /bin)
and reports the import cost of `berth.cli.main` and a bare interpreter start.

Both CLIs talk to the same daemon, so the ratio is the clients' own cost: a
private dockerd (`--iptables=false --bridge=none`, its own data root and socket)
started here, or --host; with --berthd also a private berthd (`--bridge none`).

With --berthd, the whole stack is also compared, as issue 4's goals are stated:
`berth` on berthd against `docker` on dockerd, both daemons holding
--containers (default 100) created containers, for `ps -a` and `inspect ID`
(and `docker` on berthd, to split client from daemon); then the daemons alone,
raw API round trips (`GET /containers/json?all=1`, `GET /containers/ID/json`)
on a fresh unix connection each. Runs are interleaved (A, B, A, B, ...).
Run as root:
    .venv/bin/python bench/cli.py [-n 30] [--host unix:///path] [--berthd] [--containers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
BERTH = str(VENV_BIN / "berth")
DOCKER = shutil.which("docker")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(argv: list[str], env: dict[str, str], n: int) -> float:
    return interleaved([(argv, env)], n)[0]


def interleaved(runs: list[tuple[list[str], dict[str, str]]], n: int) -> list[float]:
    """Median wall time of each command, the commands taking turns run after run."""
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(n):
        for i, (argv, env) in enumerate(runs):
            t0 = time.perf_counter()
            subprocess.run(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
            )
            samples[i].append(time.perf_counter() - t0)
    return [statistics.median(s) for s in samples]


def api_ms(host: str, path: str, n: int) -> float:
    """Median round trip of one GET on a fresh unix connection (body read whole)."""
    from berth.client.api import Client

    client = Client(host)
    client.get(path)  # negotiated version, warm caches
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get(path)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def populate(host: str, count: int) -> str:
    """`count` created (not started) busybox containers; returns the newest id."""
    from berth.client.api import Client

    client = Client(host)
    have = len(client.get("/containers/json", params={"all": True}) or [])
    cid = ""
    for _ in range(count - have):
        body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
        cid = client.post("/containers/create", body=body)["Id"]
    return cid or client.get("/containers/json", params={"all": True})[0]["Id"]


def running(host: str) -> str:
    """A started container (`/busybox sleep`: the imported image has no /bin)."""
    from berth.client.api import Client

    client = Client(host)
    body = {
        "Image": "busybox",
        "Cmd": ["/busybox", "sleep", "100000"],
        "HostConfig": {"NetworkMode": "none"},
    }
    cid = client.post("/containers/create", body=body)["Id"]
    client.post(f"/containers/{cid}/start")
    return cid


def stack(dhost: str, bhost: str, n: int, count: int) -> None:
    """berth on berthd vs docker on dockerd, same container count on both."""
    did, bid = populate(dhost, count), populate(bhost, count)
    on_d = dict(os.environ, BERTH_HOST=dhost, DOCKER_HOST=dhost)
    on_b = dict(os.environ, BERTH_HOST=bhost, DOCKER_HOST=bhost)
    print(f"\nwhole stack, {count} containers in each daemon, load {os.getloadavg()[0]:.2f}:")
    print(
        f"{'command':<22}{'berth/berthd':>14}{'docker/dockerd':>16}{'ratio':>8}"
        f"{'docker/berthd':>15}"
    )
    brun, drun = running(bhost), running(dhost)
    try:
        for cmd, bargs, dargs in (
            ("ps -a", ["ps", "-a"], ["ps", "-a"]),
            ("inspect ID", ["inspect", bid[:12]], ["inspect", did[:12]]),
            (
                "exec ID true",
                ["exec", brun, "/busybox", "true"],
                ["exec", drun, "/busybox", "true"],
            ),
        ):
            ours, theirs, cross = interleaved(
                [([BERTH, *bargs], on_b), ([DOCKER, *dargs], on_d), ([DOCKER, *bargs], on_b)], n
            )
            print(
                f"{cmd:<22}{ours * 1000:>14.1f}{theirs * 1000:>16.1f}{ours / theirs:>8.2f}"
                f"{cross * 1000:>15.1f}"
            )
    finally:
        from berth.client.api import Client

        for host, cid in ((bhost, brun), (dhost, drun)):
            # berthd's containers outlive it (live restore): remove before it stops
            Client(host).delete(f"/containers/{cid}", params={"force": True})
    print(f"\ndaemons alone (raw API round trip, ms), load {os.getloadavg()[0]:.2f}:")
    print(f"{'request':<34}{'berthd':>10}{'dockerd':>10}{'ratio':>8}")
    for label, bpath, dpath in (
        ("GET /_ping", "/_ping", "/_ping"),
        ("GET /containers/json?all=1", "/containers/json?all=1", "/containers/json?all=1"),
        ("GET /containers/ID/json", f"/containers/{bid}/json", f"/containers/{did}/json"),
    ):
        ours = api_ms(bhost, bpath, n * 3)
        theirs = api_ms(dhost, dpath, n * 3)
        print(f"{label:<34}{ours:>10.2f}{theirs:>10.2f}{ours / theirs:>8.2f}")


def import_ms() -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import berth.cli.main"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    for line in reversed(out.splitlines()):
        if line.rstrip().endswith("berth.cli.main"):
            return int(line.split("|")[1]) / 1000
    return float("nan")


def wait_ping(host: str, proc: subprocess.Popen, what: str) -> None:
    from berth.client.api import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            Client(host).ping()
            return
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.05)


def start_dockerd(root: Path) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/d.sock"
    proc = subprocess.Popen(
        ["dockerd", "--iptables=false", "--bridge=none", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "-H", host, "--pidfile", str(root / "d.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_ping(host, proc, "dockerd")
    return proc, host


def start_berthd(root: Path) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/b.sock"
    (root / "daemon.json").write_text("{}")
    proc = subprocess.Popen(
        [str(VENV_BIN / "berthd"), "--data-root", str(root / "data"), "--exec-root",
         str(root / "exec"), "-H", host, "--config-file", str(root / "daemon.json"),
         "--bridge", "none"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_ping(host, proc, "berthd")
    return proc, host


def stop(proc: subprocess.Popen, root: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    subprocess.run(["umount", "-R", "-l", str(root / "data")], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def import_busybox(host: str) -> None:
    env = dict(os.environ, BERTH_HOST=host)
    subprocess.run(
        f"tar -C /bin -c busybox | {BERTH} import - busybox:latest",
        shell=True, env=env, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip


def table(host: str, n: int) -> None:
    env = dict(os.environ, BERTH_HOST=host, DOCKER_HOST=host)
    print(f"load {os.getloadavg()[0]:.2f}")
    print(f"{'command':<46}{'berth (ms)':>12}{'docker (ms)':>13}{'berth/docker':>14}")
    for cmd in (
        ["--version"],
        ["ps"],
        ["images", "-q"],
        ["inspect", "busybox"],
        # the daemon dominates; same daemon for both
        ["run", "--rm", "--network", "none", "busybox", "/busybox", "true"],
    ):
        if DOCKER:
            ours, theirs = interleaved([([BERTH, *cmd], env), ([DOCKER, *cmd], env)], n)
        else:
            ours, theirs = timed([BERTH, *cmd], env, n), float("nan")
        print(
            f"{' '.join(cmd):<46}{ours * 1000:>12.1f}{theirs * 1000:>13.1f}{ours / theirs:>14.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--host", help="use this daemon instead of starting a private dockerd")
    ap.add_argument(
        "--berthd", action="store_true", help="also time both CLIs against a private berthd"
    )
    ap.add_argument(
        "--containers", type=int, default=100, help="containers in each daemon for the stack table"
    )
    args = ap.parse_args()
    # An installed berth has bytecode; this checkout may run with
    # PYTHONDONTWRITEBYTECODE, which would time the compiler instead.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "berth/cli", "berth/client",
         "berth/__init__.py", "berth/errors.py", "berth/durations.py"],
        cwd=REPO, check=True,
    )  # fmt: skip
    started: list[tuple[subprocess.Popen, Path]] = []
    try:
        host = args.host
        if host is None:
            if shutil.which("dockerd") is None or os.geteuid() != 0:
                raise SystemExit("needs root and dockerd, or --host")
            root = Path(tempfile.mkdtemp(prefix="bcli-bench", dir="/tmp"))
            proc, host = start_dockerd(root)
            started.append((proc, root))
            import_busybox(host)
        env = dict(os.environ)
        print(f"runs per figure: {args.n} (medians)")
        print(f"import berth.cli.main (cumulative, -X importtime): {import_ms():.1f} ms")
        bare = timed([sys.executable, "-c", "pass"], env, args.n)
        print(f"bare venv python start:                            {bare * 1000:.1f} ms")
        nosite = timed([sys.executable, "-S", "-c", "pass"], env, args.n)
        print(f"python -S (no site, no editable-install finder):   {nosite * 1000:.1f} ms")
        print(f"\nboth CLIs against dockerd ({host}):")
        table(host, args.n)
        if args.berthd:
            root = Path(tempfile.mkdtemp(prefix="bcli-benchb", dir="/tmp"))
            proc, bhost = start_berthd(root)
            started.append((proc, root))
            import_busybox(bhost)
            print(f"\nboth CLIs against berthd ({bhost}):")
            table(bhost, args.n)
            if DOCKER:
                stack(host, bhost, args.n, args.containers)
    finally:
        for proc, root in started:
            stop(proc, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

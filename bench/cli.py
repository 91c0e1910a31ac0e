"""CLI start-up: `berth` vs the `docker` CLI, medians and ratios.

Times, N runs each (default 30), the wall time of:
  --version          (no daemon contact)
  ps                 (an empty daemon: one list call, plus version negotiation)
  images -q          (idem)
  inspect busybox    (one lookup)
  run --rm busybox true (create, attach, wait, start: the daemon's time mostly)
and reports the import cost of `berth.cli.main` and a bare interpreter start.

Both CLIs talk to the same daemon, so the ratio is the clients' own cost: a
private dockerd (`--iptables=false --bridge=none`, its own data root and socket)
started here, or --host; with --berthd also a private berthd. Run as root:
    .venv/bin/python bench/cli.py [-n 30] [--host unix:///path] [--berthd]
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
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


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
         str(root / "exec"), "-H", host, "--config-file", str(root / "daemon.json")],
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
    print(f"{'command':<22}{'berth (ms)':>12}{'docker (ms)':>13}{'berth/docker':>14}")
    for cmd in (
        ["--version"],
        ["ps"],
        ["images", "-q"],
        ["inspect", "busybox"],
        ["run", "--rm", "busybox", "true"],  # the daemon dominates; same daemon for both
    ):
        ours = timed([BERTH, *cmd], env, n)
        theirs = timed([DOCKER, *cmd], env, n) if DOCKER else float("nan")
        print(
            f"{' '.join(cmd):<22}{ours * 1000:>12.1f}{theirs * 1000:>13.1f}{ours / theirs:>14.2f}"
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
    args = ap.parse_args()
    # An installed berth has bytecode; this checkout may run with
    # PYTHONDONTWRITEBYTECODE, which would time the compiler instead.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "berth/cli", "berth/client",
         "berth/__init__.py", "berth/errors.py"],
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
    finally:
        for proc, root in started:
            stop(proc, root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

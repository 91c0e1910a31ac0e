"""CLI start-up: `berth` vs the `docker` CLI, medians and ratios.

Measures, each N times (default 30), wall time of:
  --version          (no daemon contact)
  ps                 (against an empty daemon: ping + one list call)
  images -q          (idem)
  inspect busybox    (one lookup)
and the import cost of `berth.cli.main` (python -X importtime).

The daemon is a private dockerd (`--iptables=false --bridge=none`, its own data
root and socket) started here, or the one at --host. Both CLIs talk to the same
daemon, so the ratio is the clients' cost alone. Run as root:
    .venv/bin/python bench/cli.py [-n 30] [--host unix:///path]
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


def start_dockerd(root: Path) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/d.sock"
    proc = subprocess.Popen(
        ["dockerd", "--iptables=false", "--bridge=none", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "-H", host, "--pidfile", str(root / "d.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from berth.client.api import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            Client(host).ping()
            return proc, host
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("dockerd did not start") from None
            time.sleep(0.1)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--host", help="use this daemon instead of starting a private dockerd")
    args = ap.parse_args()
    proc = None
    root = None
    host = args.host
    if host is None:
        if shutil.which("dockerd") is None or os.geteuid() != 0:
            raise SystemExit("needs root and dockerd, or --host")
        root = Path(tempfile.mkdtemp(prefix="bcli-bench", dir="/tmp"))
        proc, host = start_dockerd(root)
    env = dict(os.environ, BERTH_HOST=host, DOCKER_HOST=host)
    # An installed berth has bytecode; this checkout may run with
    # PYTHONDONTWRITEBYTECODE, which would time the compiler instead.
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "berth/cli", "berth/client",
         "berth/__init__.py", "berth/errors.py"],
        cwd=repo, check=True,
    )  # fmt: skip
    try:
        if root is not None:
            subprocess.run(
                f"tar -C /bin -c busybox | {DOCKER or BERTH} import - busybox:latest",
                shell=True, env=env, stdout=subprocess.DEVNULL, check=True,
            )  # fmt: skip
        print(f"daemon: {host}  runs per figure: {args.n}")
        print(f"import berth.cli.main (cumulative, -X importtime): {import_ms():.1f} ms")
        bare = timed([sys.executable, "-c", "pass"], env, args.n)
        print(f"bare venv python start:                            {bare * 1000:.1f} ms")
        nosite = timed([sys.executable, "-S", "-c", "pass"], env, args.n)
        print(f"python -S (no site, no editable-install finder):   {nosite * 1000:.1f} ms")
        print(f"{'command':<22}{'berth (ms)':>12}{'docker (ms)':>13}{'berth/docker':>14}")
        for cmd in (["--version"], ["ps"], ["images", "-q"], ["inspect", "busybox"]):
            ours = timed([BERTH, *cmd], env, args.n)
            theirs = timed([DOCKER, *cmd], env, args.n) if DOCKER else float("nan")
            print(
                f"{' '.join(cmd):<22}{ours * 1000:>12.1f}{theirs * 1000:>13.1f}{ours / theirs:>14.2f}"
            )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        if root is not None:
            subprocess.run(["umount", "-R", "-l", str(root / "data")], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

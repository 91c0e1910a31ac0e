"""`run --rm` on the bridge network and published-port request rate: berth vs docker.

    .venv/bin/python bench/network_run.py [--runs 15] [--requests 3000]

Docker: a private dockerd (temporary data/exec roots and socket) with its
bridge on a subnet no host route uses and `--iptables=true`, only for this
measurement. Its iptables rules are snapshotted before and every rule and chain
it added is removed afterwards, with its bridge. berth: a private berthd the
same way. Both run a busybox image imported from Debian's static busybox.
Clients talk only to 127.0.0.1. Prints medians and the berth/docker ratios.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from berth.network.netlink import host_routes


def free_subnet(prefix: str = "10.23") -> str:
    routes = host_routes()
    for third in range(0, 250):
        cand = ipaddress.IPv4Network(f"{prefix}.{third}.0/24")
        if not any(cand.overlaps(r) for r in routes):
            return str(cand)
    raise SystemExit("no free subnet for the benchmark")


def busybox_tar(path: Path) -> Path:
    """A rootfs tarball of Debian's static busybox (for `docker import`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "berth_conftest", Path(__file__).parents[1] / "tests/conftest.py"
    )
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)  # the test suite's busybox rootfs helper
    root = path / "rootfs"
    root.mkdir()
    conftest.make_busybox_rootfs(root)
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text("x" * 512)
    tar = path / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        for entry in sorted(root.iterdir()):
            t.add(entry, arcname=entry.name)
    return tar


def iptables_lines() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    table = ""
    text = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            out[table] = []
        elif line.startswith((":", "-A")):
            out[table].append(line)
    return out


def remove_added_rules(before: dict[str, list[str]]) -> None:
    """Delete exactly the rules and chains that appeared since `before`."""
    after = iptables_lines()
    for table, lines in after.items():
        old = set(before.get(table, []))
        for line in reversed(lines):
            if line.startswith("-A") and line not in old:
                args = line[3:].split()
                subprocess.run(["iptables", "-w", "-t", table, "-D", *args], capture_output=True)
        for line in lines:
            if line.startswith(":") and line not in old:
                chain = line[1:].split()[0]
                if not any(o.startswith(f":{chain} ") for o in old):
                    subprocess.run(
                        ["iptables", "-w", "-t", table, "-F", chain], capture_output=True
                    )
                    subprocess.run(
                        ["iptables", "-w", "-t", table, "-X", chain], capture_output=True
                    )


def wait_socket(sock: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"daemon did not come up (exit {proc.returncode})")
        time.sleep(0.05)


def timed(cmd: list[str], runs: int) -> float:
    warm = subprocess.run(cmd, capture_output=True, text=True)  # warm up
    if warm.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {warm.stderr.strip()}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[3:])} failed: {p.stderr.strip()}")
    return statistics.median(times)


def ab_rate(url: str, requests: int) -> float:
    rates = []
    for _ in range(3):
        out = subprocess.run(
            ["ab", "-q", "-n", str(requests), "-c", "4", url], capture_output=True, text=True
        )
        m = re.search(r"Requests per second:\s+([\d.]+)", out.stdout)
        if not m:
            raise SystemExit(f"ab failed: {out.stderr[-400:]}")
        rates.append(float(m.group(1)))
    return statistics.median(rates)


def published_port(cli: list[str], name: str) -> int:
    out = subprocess.run(
        [*cli, "port", name, "80/tcp"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[0].rsplit(":", 1)[1])


def wait_http(port: int) -> None:
    import urllib.request

    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def measure(cli: list[str], image: str, runs: int, requests: int) -> tuple[float, float]:
    run_rm = timed([*cli, "run", "--rm", "--network", "bridge", image, "true"], runs)
    subprocess.run(
        [
            *cli,
            "run",
            "-d",
            "--name",
            "bench-web",
            "-p",
            "127.0.0.1::80",
            image,
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
        check=True,
        capture_output=True,
    )
    try:
        port = published_port(cli, "bench-web")
        wait_http(port)
        rate = ab_rate(f"http://127.0.0.1:{port}/", requests)
    finally:
        subprocess.run([*cli, "rm", "-f", "bench-web"], capture_output=True)
    return run_rm, rate


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_docker(work: Path, tar: Path, runs: int, requests: int) -> tuple[float, float] | None:
    if not shutil.which("dockerd"):
        return None
    d = work / "docker"
    d.mkdir()
    subnet = ipaddress.IPv4Network(free_subnet("10.23"))
    bip = f"{subnet.network_address + 1}/{subnet.prefixlen}"
    before = iptables_lines()
    sock = d / "d.sock"
    proc = subprocess.Popen(
        ["dockerd", "--iptables=true", f"--bip={bip}", "--data-root", str(d / "root"), "--exec-root", str(d / "exec"),
         "-H", f"unix://{sock}", "--pidfile", str(d / "d.pid"), "--containerd-namespace", "berthbench",
         "--containerd-plugins-namespace", "berthbench-p"],
        stdout=subprocess.DEVNULL, stderr=(d / "dockerd.log").open("wb"),
    )  # fmt: skip
    cli = ["docker", "-H", f"unix://{sock}"]
    try:
        wait_socket(sock, proc)
        subprocess.run([*cli, "import", str(tar), "bench-busybox"], check=True, capture_output=True)
        return measure(cli, "bench-busybox", runs, requests)
    finally:
        subprocess.run([*cli, "rm", "-f", "bench-web"], capture_output=True)
        stop(proc)
        remove_added_rules(before)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
        subprocess.run(["umount", "-R", str(d / "exec")], capture_output=True)


def bench_berth(work: Path, tar: Path, runs: int, requests: int) -> tuple[float, float] | None:
    berthd = Path(sys.executable).parent / "berthd"
    berth = Path(sys.executable).parent / "berth"
    if not berthd.exists() or not berth.exists():
        return None
    d = work / "berth"
    d.mkdir()
    sock = d / "b.sock"
    proc = subprocess.Popen(
        [str(berthd), "--data-root", str(d / "root"), "--exec-root", str(d / "exec"), "-H", f"unix://{sock}"],
        stdout=subprocess.DEVNULL, stderr=(d / "berthd.log").open("wb"),
    )  # fmt: skip
    cli = [str(berth), "-H", f"unix://{sock}"]
    try:
        wait_socket(sock, proc)
        subprocess.run([*cli, "import", str(tar), "bench-busybox"], check=True, capture_output=True)
        return measure(cli, "bench-busybox", runs, requests)
    finally:
        subprocess.run([*cli, "rm", "-f", "bench-web"], capture_output=True)
        stop(proc)
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--only", choices=["docker", "berth"])
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="berth-bench-run-"))
    try:
        tar = busybox_tar(work)
        results = {}
        if args.only in (None, "docker"):
            try:
                results["docker"] = bench_docker(work, tar, args.runs, args.requests)
            except (subprocess.CalledProcessError, SystemExit) as e:
                print(f"docker: not measured ({e})")
                results["docker"] = None
        if args.only in (None, "berth"):
            try:
                results["berth"] = bench_berth(work, tar, args.runs, args.requests)
            except (subprocess.CalledProcessError, SystemExit) as e:
                print(f"berth: not measured ({e})")
                results["berth"] = None
        for name, r in results.items():
            if r:
                print(
                    f"{name}: run --rm on bridge {r[0] * 1000:.0f} ms (median), published port {r[1]:.0f} req/s"
                )
        if results.get("docker") and results.get("berth"):
            d, b = results["docker"], results["berth"]
            print(
                f"ratios berth/docker: run --rm {b[0] / d[0]:.2f} (goal <= 0.5), requests/s {b[1] / d[1]:.2f} (goal >= 1)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

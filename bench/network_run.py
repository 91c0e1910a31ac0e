"""`run --rm` on the bridge network and published-port request rate: berth vs docker.

    .venv/bin/python bench/network_run.py [--runs 15] [--requests 3000]

Docker: a private dockerd (temporary data/exec roots and socket) with its
bridge on a subnet no host route uses and `--iptables=true`, only for this
measurement. Its iptables rules are snapshotted before and every rule and chain
it added is removed afterwards, with its bridge. berth: a private berthd the
same way. Both daemons run at once and are measured interleaved (docker,
berth, docker, berth...), as the machine's load changes. Both run a busybox
image imported from Debian's static busybox. Clients talk only to 127.0.0.1.
Prints medians, the berth/docker ratios and the load average.
`--berthd-arg=--userland-proxy=false` passes a flag to berthd.
"""

from __future__ import annotations

import argparse
import contextlib
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


def run_once(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed: {p.stderr.strip()}")
    return took


def ab_once(url: str, requests: int) -> float:
    out = subprocess.run(
        ["ab", "-q", "-n", str(requests), "-c", "4", url], capture_output=True, text=True
    )
    m = re.search(r"Requests per second:\s+([\d.]+)", out.stdout)
    if not m:
        raise SystemExit(f"ab failed: {out.stderr[-400:]}")
    return float(m.group(1))


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


def start_web(cli: list[str], image: str) -> tuple[str, str]:
    """A busybox httpd published on a free loopback port: its URL there, and its
    URL at the container's own address (the same server without the port's path)."""
    subprocess.run(
        [*cli, "run", "-d", "--name", "bench-web", "-p", "127.0.0.1::80", image,
         "httpd", "-f", "-p", "80", "-h", "/www"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = published_port(cli, "bench-web")
    wait_http(port)
    ip = subprocess.run(
        [*cli, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bench-web"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return f"http://127.0.0.1:{port}/", f"http://{ip}/"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _sysctl(key: str) -> str:
    return Path("/proc/sys", key).read_text().strip()


def docker_engine(stack: contextlib.ExitStack, work: Path, tar: Path) -> list[str] | None:
    """A private dockerd with its bridge on a free subnet and iptables on; its CLI argv.
    Everything it adds to the host (rules, chains, FORWARD policy, bridge) goes on exit."""
    if not shutil.which("dockerd"):
        return None
    d = work / "docker"
    d.mkdir()
    subnet = ipaddress.IPv4Network(free_subnet("10.23"))
    bip = f"{subnet.network_address + 1}/{subnet.prefixlen}"
    before = iptables_lines()
    policy = [ln for ln in before.get("filter", []) if ln.startswith(":FORWARD ")]
    forward = _sysctl("net/ipv4/ip_forward")
    sock = d / "d.sock"
    proc = subprocess.Popen(
        ["dockerd", "--iptables=true", f"--bip={bip}", "--data-root", str(d / "root"), "--exec-root", str(d / "exec"),
         "-H", f"unix://{sock}", "--pidfile", str(d / "d.pid"), "--containerd-namespace", "berthbench",
         "--containerd-plugins-namespace", "berthbench-p"],
        stdout=subprocess.DEVNULL, stderr=(d / "dockerd.log").open("wb"),
    )  # fmt: skip
    cli = ["docker", "-H", f"unix://{sock}"]

    def cleanup() -> None:
        subprocess.run([*cli, "rm", "-f", "bench-web"], capture_output=True)
        stop(proc)
        remove_added_rules(before)
        if policy:  # dockerd may have set FORWARD's policy to DROP
            subprocess.run(["iptables", "-w", "-P", "FORWARD", policy[0].split()[1]])
        Path("/proc/sys/net/ipv4/ip_forward").write_text(forward)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True)
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)
        subprocess.run(["umount", "-R", str(d / "exec")], capture_output=True)

    stack.callback(cleanup)
    wait_socket(sock, proc)
    subprocess.run([*cli, "import", str(tar), "bench-busybox"], check=True, capture_output=True)
    return cli


def berth_engine(
    stack: contextlib.ExitStack, work: Path, tar: Path, extra: list[str]
) -> list[str] | None:
    berthd = Path(sys.executable).parent / "berthd"
    berth = Path(sys.executable).parent / "berth"
    if not berthd.exists() or not berth.exists():
        return None
    d = work / "berth"
    d.mkdir()
    sock = d / "b.sock"
    proc = subprocess.Popen(
        [str(berthd), "--data-root", str(d / "root"), "--exec-root", str(d / "exec"), "-H", f"unix://{sock}",
         *extra],
        stdout=subprocess.DEVNULL, stderr=(d / "berthd.log").open("wb"),
    )  # fmt: skip
    cli = [str(berth), "-H", f"unix://{sock}"]

    def cleanup() -> None:
        subprocess.run([*cli, "rm", "-f", "bench-web"], capture_output=True)
        stop(proc)
        subprocess.run(["umount", "-R", str(d / "root")], capture_output=True)

    stack.callback(cleanup)
    wait_socket(sock, proc)
    subprocess.run([*cli, "import", str(tar), "bench-busybox"], check=True, capture_output=True)
    return cli


def interleaved(engines: dict[str, list[str]], runs: int, requests: int) -> dict[str, tuple]:
    """A, B, A, B...: `run --rm` times (without and with a published port), then
    ab rounds against each published port and, for reference, against each
    container's own address."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    published_times: dict[str, list[float]] = {name: [] for name in engines}
    rates: dict[str, list[float]] = {name: [] for name in engines}
    rm = ["run", "--rm", "--network", "bridge", "bench-busybox", "true"]
    rm_p = ["run", "--rm", "-p", "127.0.0.1::80", "bench-busybox", "true"]
    for cli in engines.values():
        run_once([*cli, *rm])  # warm up
    for _ in range(runs):
        for name, cli in engines.items():
            times[name].append(run_once([*cli, *rm]))
            published_times[name].append(run_once([*cli, *rm_p]))
    urls = {name: start_web(cli, "bench-busybox") for name, cli in engines.items()}
    direct: dict[str, list[float]] = {name: [] for name in engines}
    for published, _ in urls.values():
        ab_once(published, max(200, requests // 10))  # warm up
    for _ in range(5):
        for name, (published, own) in urls.items():
            rates[name].append(ab_once(published, requests))
            direct[name].append(ab_once(own, requests))
    return {
        name: (
            statistics.median(times[name]),
            statistics.median(rates[name]),
            rates[name],
            statistics.median(direct[name]),
            statistics.median(published_times[name]),
        )
        for name in engines
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--only", choices=["docker", "berth"])
    ap.add_argument(
        "--berthd-arg", action="append", default=[], help="e.g. --berthd-arg=--userland-proxy=false"
    )
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="berth-bench-run-"))
    try:
        with contextlib.ExitStack() as stack:
            tar = busybox_tar(work)
            engines = {}
            if args.only in (None, "docker"):
                try:
                    if cli := docker_engine(stack, work, tar):
                        engines["docker"] = cli
                except (subprocess.CalledProcessError, SystemExit) as e:
                    print(f"docker: not measured ({e})")
            if args.only in (None, "berth"):
                try:
                    if cli := berth_engine(stack, work, tar, args.berthd_arg):
                        engines["berth"] = cli
                except (subprocess.CalledProcessError, SystemExit) as e:
                    print(f"berth: not measured ({e})")
            results = interleaved(engines, args.runs, args.requests)
        for name, (t, rate, all_rates, own, tp) in results.items():
            shown = " ".join(f"{r:.0f}" for r in all_rates)
            print(f"{name}: run --rm on bridge {t * 1000:.0f} ms (median of {args.runs}; "
                  f"with -p {tp * 1000:.0f} ms), "
                  f"published port {rate:.0f} req/s (median; rounds {shown}; "
                  f"the container's own address {own:.0f})")  # fmt: skip
        if "docker" in results and "berth" in results:
            d, b = results["docker"], results["berth"]
            print(
                f"ratios berth/docker: run --rm {b[0] / d[0]:.2f} (goal <= 0.5), "
                f"with -p {b[4] / d[4]:.2f}, requests/s {b[1] / d[1]:.2f} (goal >= 1)"
            )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

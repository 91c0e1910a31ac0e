"""Network benchmarks: sandbox setup cost and published-port request rate.

Everything happens inside throwaway network namespaces (one plays the host), so
the machine's own network is never touched. Prints medians and ratios.

    .venv/bin/python bench/network.py [--runs 30] [--requests 3000]

1. sandbox: netns + veth + address + route (+ teardown) through NetworkManager,
   versus the bare minimum with iproute2 commands (`ip netns add`, `ip link add`...).
2. published port: requests/s from the host namespace's 127.0.0.1 to busybox httpd in
   a container namespace through berth's userland proxy, Docker's docker-proxy
   (same arguments as dockerd gives it) when installed, and directly to the
   container address (the ceiling). Client: ApacheBench (`ab`).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from berth.db import open_db
from berth.network.manager import ManagerConfig, NetworkManager, SandboxRequest


def _ns_exec(ns: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={ns}", *argv], capture_output=True, text=True, **kw)


def bench_sandbox(mgr: NetworkManager, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        cid = secrets.token_hex(32)
        t0 = time.perf_counter()
        mgr.register_container(cid, f"b{i}", "benchnet")
        mgr.setup(SandboxRequest(cid, f"b{i}", cid[:12], network_mode="benchnet"))
        mgr.unregister_container(cid)
        times.append(time.perf_counter() - t0)
    return times


def bench_iproute(host_path: str, runs: int) -> list[float]:
    """The same work with iproute2 commands, as a shell script would do it."""
    times = []
    for i in range(runs):
        ns = f"btb{secrets.token_hex(3)}"
        veth = f"btq{i}"
        t0 = time.perf_counter()
        cmds = [
            ["ip", "netns", "add", ns],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["nsenter", f"--net={host_path}", "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
             "netns", ns],
            ["nsenter", f"--net={host_path}", "ip", "link", "set", veth, "master", "btbench0", "up"],
            ["ip", "-n", ns, "addr", "add", "10.250.1.200/24", "dev", "eth0"],
            ["ip", "-n", ns, "link", "set", "eth0", "up"],
            ["ip", "-n", ns, "route", "add", "default", "via", "10.250.1.1"],
            ["nsenter", f"--net={host_path}", "ip", "link", "del", veth],
            ["ip", "netns", "del", ns],
        ]  # fmt: skip
        for c in cmds:
            subprocess.run(c, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its descendants (threads included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                total += sum(cpu_seconds(int(c)) for c in f.read().split())
    except FileNotFoundError:
        pass
    return total


def interleaved_rates(
    host_path: str, targets: dict[str, tuple[str, list[int]]], requests: int, rounds: int = 5
) -> dict[str, tuple[float, float | None]]:
    """Median requests/s per target over interleaved ab rounds, and the CPU time its
    proxy processes spent per request (a figure the machine's load hardly changes)."""
    rates: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, float] = dict.fromkeys(targets, 0.0)
    for url, _ in targets.values():
        _ab_once(host_path, url, max(200, requests // 10), 4)  # warm up
    for _ in range(rounds):
        for name, (url, pids) in targets.items():
            before = sum(cpu_seconds(p) for p in pids)
            rates[name].append(_ab_once(host_path, url, requests, 4))
            cpu[name] += sum(cpu_seconds(p) for p in pids) - before
    return {
        name: (
            statistics.median(rates[name]),
            cpu[name] / (rounds * requests) * 1e6 if targets[name][1] else None,
        )
        for name in targets
    }


def _ab_once(host_path: str, url: str, requests: int, concurrency: int) -> float:
    out = _ns_exec(
        host_path, "ab", "-q", "-n", str(requests), "-c", str(concurrency), url, timeout=300
    )
    m = re.search(r"Requests per second:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"ab failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    return float(m.group(1))


def free_port(host_path: str) -> int:
    from pyroute2.netns import create_socket

    s = create_socket(host_path, socket.AF_INET, socket.SOCK_STREAM, flags=0)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(host_path: str, port: int) -> None:
    from pyroute2.netns import create_socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = create_socket(host_path, socket.AF_INET, socket.SOCK_STREAM, flags=0)
        try:
            s.connect(("127.0.0.1", port))
            return
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    raise RuntimeError(f"port {port} never opened")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    from pyroute2 import NetNS, netns

    host = f"bth{secrets.token_hex(3)}"
    host_path = f"/run/netns/{host}"
    netns.create(host)
    tmp = Path(tempfile.mkdtemp(prefix="berth-bench-net-"))
    procs: list[subprocess.Popen] = []
    mgr = None
    try:
        with NetNS(host) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        resolv = tmp / "resolv.conf"
        resolv.write_text("nameserver 127.0.0.1\n")
        mgr = NetworkManager(
            open_db(tmp / "berth.db"),
            ManagerConfig(
                exec_root=tmp / "exec", host_netns=host, default_bridge=None, resolv_conf=resolv
            ),
        )
        mgr.create_network(
            "benchnet",
            subnet="10.250.0.0/24",
            options={"com.docker.network.bridge.name": "btbench0"},
        )
        bench_sandbox(mgr, 3)  # warm up
        ours = bench_sandbox(mgr, args.runs)
        ip = bench_iproute(host_path, max(5, args.runs // 3))
        m_ours, m_ip = statistics.median(ours), statistics.median(ip)
        print(f"sandbox setup+teardown (netns, veth, addr, route): berth {m_ours * 1000:.1f} ms, "
              f"iproute2 commands {m_ip * 1000:.1f} ms, ratio {m_ours / m_ip:.2f}")  # fmt: skip

        # published port
        www = tmp / "www"
        www.mkdir()
        (www / "index.html").write_text("x" * 512)
        cid = secrets.token_hex(32)
        mgr.register_container(cid, "web", "benchnet")
        info = mgr.setup(
            SandboxRequest(
                cid,
                "web",
                "web",
                network_mode="benchnet",
                port_bindings={"80/tcp": [{"HostPort": ""}]},
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    "nsenter",
                    f"--net={info.netns_path}",
                    "/bin/busybox",
                    "httpd",
                    "-f",
                    "-p",
                    "80",
                    "-h",
                    str(www),
                ]
            )
        )
        cip = mgr.endpoints("benchnet")[0].ip
        port = int(info.ports["80/tcp"][0]["HostPort"])
        wait_port(host_path, port)
        targets = {"direct": (f"http://{cip}:80/", [])}
        sb = mgr.store.sandbox(cid)
        targets["berth proxy"] = (f"http://127.0.0.1:{port}/", [sb.proxy_pid])
        dp = shutil.which("docker-proxy") or shutil.which("docker-proxy", path="/usr/sbin:/usr/bin")
        if dp:
            dport = free_port(host_path)
            # docker-proxy reports readiness on fd 3, as dockerd expects: give it one
            cmd = (f"exec nsenter --net={host_path} {dp} -proto tcp -host-ip 0.0.0.0 -host-port {dport}"
                   f" -container-ip {cip} -container-port 80 3>/dev/null")  # fmt: skip
            procs.append(subprocess.Popen(["sh", "-c", cmd]))
            wait_port(host_path, dport)
            targets["docker-proxy"] = (f"http://127.0.0.1:{dport}/", [procs[-1].pid])
        results = interleaved_rates(host_path, targets, args.requests)
        # the same published port with userland_proxy=False: loopback through kernel DNAT
        driver = mgr.drivers["bridge"]
        driver.userland_proxy, driver._chains_ready = False, False
        driver.create_network(mgr.get("benchnet"))
        # (docker-proxy again, interleaved with it: the load may have changed)
        kernel = {"kernel DNAT": (f"http://127.0.0.1:{port}/", [])}
        if dp:
            kernel["docker-proxy "] = targets["docker-proxy"]
        second = interleaved_rates(host_path, kernel, args.requests)
        print("published port, requests/s (ab -c 4, median of 5 interleaved rounds):")
        for name, (rate, cpu) in [*results.items(), *second.items()]:
            extra = f", proxy CPU {cpu:.0f} us/request" if cpu is not None else ""
            print(f"  {name:14s} {rate:7.0f}{extra}")
        if dp:
            b = results["berth proxy"][0] / results["docker-proxy"][0]
            k = second["kernel DNAT"][0] / second["docker-proxy "][0]
            print(f"  ratios to docker-proxy: berth proxy {b:.2f}, kernel DNAT {k:.2f}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        mgr.unregister_container(cid)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        if mgr is not None:
            mgr.shutdown_host_state()
        netns.remove(host)
        subprocess.run(["umount", "-l", str(tmp / "exec" / "netns")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

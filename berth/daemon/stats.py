"""`GET /containers/{id}/stats`: Docker's stats document from cgroup files."""

from __future__ import annotations

import os
import time
from typing import Any

from berth.daemon.cgroupfs import Cgroup
from berth.daemon.timefmt import rfc3339_nano

_TICKS = os.sysconf("SC_CLK_TCK")


def system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 1_000_000_000 // _TICKS


def _online_cpus() -> int:
    return len(os.sched_getaffinity(0))


def _networks(pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        out[name] = {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }  # fmt: skip
    return out


def _throttling(cg: Cgroup) -> dict[str, int]:
    """cpu.stat's CFS throttling counters (v2 counts microseconds, v1 nanoseconds)."""
    stat = cg.read_kv("", "cpu.stat") if cg.v2 else cg.read_kv("cpu", "cpu.stat")
    ns = stat.get("throttled_usec", 0) * 1000 if cg.v2 else stat.get("throttled_time", 0)
    return {
        "periods": stat.get("nr_periods", 0),
        "throttled_periods": stat.get("nr_throttled", 0),
        "throttled_time": ns,
    }


def sample(cg: Cgroup, pid: int, name: str, cid: str) -> dict[str, Any]:
    """One reading (without precpu_stats, which the caller fills from the previous one)."""
    if cg.v2:
        cpu = cg.read_kv("", "cpu.stat")
        usage = cpu.get("usage_usec", 0) * 1000
        user = cpu.get("user_usec", 0) * 1000
        system = cpu.get("system_usec", 0) * 1000
        percpu: list[int] | None = None
        mem_usage = cg.read_int("", "memory.current") or 0
        mem_limit = cg.read_int("", "memory.max")
        mem_stats = cg.read_kv("", "memory.stat")
        pids = cg.read_int("", "pids.current") or 0
        pids_limit = cg.read_int("", "pids.max")
        blkio: list[dict[str, Any]] = []
        for line in (cg.read("", "io.stat") or "").splitlines():
            dev, *kvs = line.split()
            major, _, minor = dev.partition(":")
            kv = dict(x.split("=") for x in kvs if "=" in x)
            for op, key in (("read", "rbytes"), ("write", "wbytes")):
                blkio.append(
                    {
                        "major": int(major),
                        "minor": int(minor),
                        "op": op,
                        "value": int(kv.get(key, 0)),
                    }
                )
    else:
        usage = cg.read_int("cpuacct", "cpuacct.usage") or 0
        percpu = [int(x) for x in (cg.read("cpuacct", "cpuacct.usage_percpu") or "").split()]
        ticks = cg.read_kv("cpuacct", "cpuacct.stat")
        user = ticks.get("user", 0) * 1_000_000_000 // _TICKS
        system = ticks.get("system", 0) * 1_000_000_000 // _TICKS
        mem_usage = cg.read_int("memory", "memory.usage_in_bytes") or 0
        mem_limit = cg.read_int("memory", "memory.limit_in_bytes")
        mem_stats = cg.read_kv("memory", "memory.stat")
        pids = cg.read_int("pids", "pids.current") or 0
        pids_limit = cg.read_int("pids", "pids.max")
        blkio = []
        for line in (cg.read("blkio", "blkio.throttle.io_service_bytes") or "").splitlines():
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, _, minor = parts[0].partition(":")
                blkio.append(
                    {
                        "major": int(major),
                        "minor": int(minor),
                        "op": parts[1].lower(),
                        "value": int(parts[2]),
                    }
                )
    host_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if mem_limit is None or mem_limit > host_mem:
        mem_limit = host_mem
    doc: dict[str, Any] = {
        "read": rfc3339_nano(time.time_ns()),
        "preread": "0001-01-01T00:00:00Z",
        "pids_stats": {"current": pids, **({"limit": pids_limit} if pids_limit else {})},
        "blkio_stats": {
            "io_service_bytes_recursive": blkio or None,
            "io_serviced_recursive": None,
            "io_queue_recursive": None,
            "io_service_time_recursive": None,
            "io_wait_time_recursive": None,
            "io_merged_recursive": None,
            "io_time_recursive": None,
            "sectors_recursive": None,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {
            "cpu_usage": {
                "total_usage": usage,
                "usage_in_kernelmode": system,
                "usage_in_usermode": user,
                **({"percpu_usage": percpu} if percpu else {}),
            },
            "system_cpu_usage": system_cpu_ns(),
            "online_cpus": _online_cpus(),
            "throttling_data": _throttling(cg),
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        },
        "memory_stats": {"usage": mem_usage, "stats": mem_stats, "limit": mem_limit},
        "name": "/" + name,
        "id": cid,
    }
    nets = _networks(pid) if pid else {}
    if nets:
        doc["networks"] = nets
    return doc


def empty(name: str, cid: str) -> dict[str, Any]:
    """What Docker sends for a container that is not running: zeros."""
    return {
        "read": "0001-01-01T00:00:00Z",
        "preread": "0001-01-01T00:00:00Z",
        "pids_stats": {},
        "blkio_stats": {},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": {},
        "name": "/" + name,
        "id": cid,
    }


def with_previous(cur: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    if prev is not None:
        cur["precpu_stats"] = prev["cpu_stats"]
        cur["preread"] = prev["read"]
    return cur

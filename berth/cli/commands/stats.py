"""`stats`: resource usage per container, docker's columns and arithmetic."""

from __future__ import annotations

import sys
import time

from berth.cli import common, humanize, table
from berth.cli.flags import STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("--format", STR, help="Format output using a custom template")

SPECS: dict[str, Spec] = {
    "stats": Spec(
        "stats [OPTIONS] [CONTAINER...]",
        "Display a live stream of container(s) resource usage statistics",
        [
            Flag("-a, --all", help="Show all containers (default shows just running)"),
            _FORMAT,
            Flag("--no-stream", help="Disable streaming stats and only pull the first result"),
            Flag("--no-trunc", help="Do not truncate output"),
        ],
    ),
}

STATS_HEADERS = {
    "Container": "CONTAINER",
    "ID": "CONTAINER ID",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


def stats_row(s: dict[str, Any], trunc: bool) -> dict[str, Any]:
    """One stats sample as docker's stats columns (CPU % from the two samples in it)."""
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    sys_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    ncpu = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    cpu_pct = cpu_delta / sys_delta * ncpu * 100.0 if sys_delta > 0 and cpu_delta > 0 else 0.0
    mem = s.get("memory_stats") or {}
    usage = mem.get("usage") or 0
    mstats = mem.get("stats") or {}
    usage -= mstats.get("total_inactive_file", mstats.get("inactive_file", 0)) or 0
    limit = mem.get("limit") or 0
    mem_pct = usage / limit * 100.0 if limit else 0.0
    rx = sum(n.get("rx_bytes", 0) for n in (s.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (s.get("networks") or {}).values())
    rd = wr = 0
    for e in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        if (e.get("op") or "").lower() == "read":
            rd += e.get("value", 0)
        elif (e.get("op") or "").lower() == "write":
            wr += e.get("value", 0)
    cid = s.get("id", "")
    name = (s.get("name") or "").lstrip("/")
    return {
        "Container": humanize.short_id(cid) if trunc else cid,
        "ID": humanize.short_id(cid) if trunc else cid,
        "Name": name,
        "CPUPerc": f"{cpu_pct:.2f}%",
        "MemUsage": f"{humanize.bytes_size(usage)} / {humanize.bytes_size(limit)}",
        "MemPerc": f"{mem_pct:.2f}%",
        "NetIO": f"{humanize.size(rx, 3)} / {humanize.size(tx, 3)}",
        "BlockIO": f"{humanize.size(rd, 3)} / {humanize.size(wr, 3)}",
        "PIDs": str((s.get("pids_stats") or {}).get("current", 0)),
    }


def _one_shot(ctx: Context, names: list[str]) -> dict[str, dict[str, Any]]:
    """One sample per container, fetched in parallel (each takes the daemon ~1 s)."""
    import threading

    samples: dict[str, dict[str, Any]] = {}

    def fetch(name: str) -> None:
        path = f"/containers/{common.quote(name)}/stats"
        samples[name] = ctx.client.get(path, params={"stream": False}) or {}

    threads = [threading.Thread(target=fetch, args=(n,), daemon=True) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def _follow(ctx: Context, names: list[str], samples: dict[str, dict[str, Any]]) -> None:
    """A streaming stats connection per container, each keeping its latest sample."""
    import threading

    def follow(name: str) -> None:
        path = f"/containers/{common.quote(name)}/stats"
        try:
            for sample in ctx.client.stream_json("GET", path, params={"stream": True}):
                samples[name] = sample
        except Exception:
            samples.pop(name, None)  # the container went away: drop its row

    for name in names:
        threading.Thread(target=follow, args=(name,), daemon=True).start()


def run_stats(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    names = args
    if not names:
        listed = ctx.client.get("/containers/json", params={"all": o["all"] or None}) or []
        names = [c["Id"] for c in listed]
    ctx.client.api_version()  # negotiate once, before the threads share the client
    fmt = (
        o["format"]
        or "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
    )
    trunc = not o["no_trunc"]
    if o["no_stream"]:
        samples = _one_shot(ctx, names)
        rows = [stats_row(samples.get(n) or {}, trunc) for n in names]
        sys.stdout.write(table.render(fmt, rows, STATS_HEADERS))
        return 0
    samples: dict[str, dict[str, Any]] = {}
    _follow(ctx, names, samples)
    while True:
        time.sleep(1)  # docker redraws once a second
        rows = [stats_row(samples[n], trunc) for n in names if n in samples]
        sys.stdout.write("\033[2J\033[H" + table.render(fmt, rows, STATS_HEADERS))
        sys.stdout.flush()

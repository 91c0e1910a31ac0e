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


def run_stats(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    names = args
    if not names:
        listed = ctx.client.get("/containers/json", params={"all": o["all"] or None}) or []
        names = [c["Id"] for c in listed]
    fmt = (
        o["format"]
        or "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
    )
    while True:
        rows = []
        for name in names:
            sample = ctx.client.get(
                f"/containers/{common.quote(name)}/stats", params={"stream": False}
            )
            rows.append(stats_row(sample or {}, not o["no_trunc"]))
        text = table.render(fmt, rows, STATS_HEADERS)
        if o["no_stream"]:
            sys.stdout.write(text)
            return 0
        sys.stdout.write("\033[2J\033[H" + text)
        sys.stdout.flush()
        time.sleep(1)  # docker refreshes the screen once a second

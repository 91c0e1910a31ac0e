"""Reading (stats) and writing (update) a running container's cgroup files.

The spec the daemon writes puts every container at cgroups path
`/berth/<id>`; on this host's hybrid layout that is
`/sys/fs/cgroup/<controller>/berth/<id>` (v1), on a pure v2 host
`/sys/fs/cgroup/berth/<id>`. cgroupfs is just files, so this module is
plain reads and writes; `root` is a parameter so tests can use a directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Cgroup:
    root: Path
    rel: str  # "berth/<id>"
    v2: bool

    @classmethod
    def of(cls, cid: str, root: Path = Path("/sys/fs/cgroup"), parent: str = "berth") -> Cgroup:
        v2 = (root / "cgroup.controllers").exists()
        return cls(root, f"{parent}/{cid}", v2)

    def path(self, controller: str) -> Path:
        return self.root / self.rel if self.v2 else self.root / controller / self.rel

    def read(self, controller: str, name: str) -> str | None:
        try:
            return (self.path(controller) / name).read_text()
        except OSError:
            return None

    def read_int(self, controller: str, name: str) -> int | None:
        text = self.read(controller, name)
        if text is None:
            return None
        text = text.strip()
        if text == "max":
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def read_kv(self, controller: str, name: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in (self.read(controller, name) or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
        return out

    def write(self, controller: str, name: str, value: str) -> None:
        path = self.path(controller) / name
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise InvalidArgument(f"cannot set {name} to {value}: {exc.strerror}") from exc

    def exists(self) -> bool:
        return self.path("memory").exists() if not self.v2 else self.path("").exists()


def apply_resources(cg: Cgroup, hc: dict[str, Any]) -> None:
    """`docker update` on a running container: write the limits that changed."""
    if cg.v2:
        if "Memory" in hc:
            cg.write("", "memory.max", str(hc["Memory"]) if hc["Memory"] else "max")
        if "MemoryReservation" in hc:
            cg.write("", "memory.low", str(hc["MemoryReservation"] or 0))
        if "PidsLimit" in hc:
            n = hc["PidsLimit"]
            cg.write("", "pids.max", str(n) if n and n > 0 else "max")
        if "NanoCpus" in hc or "CpuQuota" in hc or "CpuPeriod" in hc:
            period = hc.get("CpuPeriod") or 100000
            quota = hc.get("CpuQuota") or 0
            if hc.get("NanoCpus"):
                period, quota = 100000, hc["NanoCpus"] * 100000 // 1_000_000_000
            cg.write("", "cpu.max", f"{quota if quota > 0 else 'max'} {period}")
        if hc.get("CpuShares"):
            weight = 1 + ((hc["CpuShares"] - 2) * 9999) // 262142
            cg.write("", "cpu.weight", str(weight))
        if hc.get("CpusetCpus"):
            cg.write("", "cpuset.cpus", hc["CpusetCpus"])
        return
    if "MemorySwap" in hc and hc.get("MemorySwap"):
        # raise the swap limit first when it grows, memory first when it shrinks
        order = [("memory.limit_in_bytes", "Memory"), ("memory.memsw.limit_in_bytes", "MemorySwap")]
        cur = cg.read_int("memory", "memory.limit_in_bytes") or 0
        if (hc.get("Memory") or 0) > cur:
            order.reverse()
        for name, key in order:
            if key in hc and os.path.exists(cg.path("memory") / name):
                cg.write("memory", name, str(hc[key] if hc[key] else -1))
    elif "Memory" in hc:
        cg.write("memory", "memory.limit_in_bytes", str(hc["Memory"] or -1))
    if "MemoryReservation" in hc:
        cg.write("memory", "memory.soft_limit_in_bytes", str(hc["MemoryReservation"] or -1))
    if "PidsLimit" in hc:
        n = hc["PidsLimit"]
        cg.write("pids", "pids.max", str(n) if n and n > 0 else "max")
    if "NanoCpus" in hc or "CpuQuota" in hc or "CpuPeriod" in hc:
        period = hc.get("CpuPeriod") or 100000
        quota = hc.get("CpuQuota") or -1
        if hc.get("NanoCpus"):
            period, quota = 100000, hc["NanoCpus"] * 100000 // 1_000_000_000
        cg.write("cpu", "cpu.cfs_period_us", str(period))
        cg.write("cpu", "cpu.cfs_quota_us", str(quota))
    if hc.get("CpuShares"):
        cg.write("cpu", "cpu.shares", str(hc["CpuShares"]))
    if hc.get("CpusetCpus"):
        cg.write("cpuset", "cpuset.cpus", hc["CpusetCpus"])
    if hc.get("CpusetMems"):
        cg.write("cpuset", "cpuset.mems", hc["CpusetMems"])
    if hc.get("BlkioWeight") and os.path.exists(cg.path("blkio") / "blkio.weight"):
        cg.write("blkio", "blkio.weight", str(hc["BlkioWeight"]))

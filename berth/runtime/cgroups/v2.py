"""cgroup v2: one directory in the unified hierarchy."""

from __future__ import annotations

import errno
import os
import time

from berth.errors import InvalidArgument
from berth.runtime.cgroups.v1 import _rmdir

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported where used: see v1.py
    from berth.oci.spec import Resources
    from berth.runtime.cgroups.plan import Write


def _weight_from_shares(shares: int) -> int:
    """cpu.shares (2..262144) mapped onto cpu.weight (1..10000), as the OCI runtimes agree."""
    return 1 + ((shares - 2) * 9999) // 262142


def _io_weight(blkio_weight: int) -> int:
    """blkio.weight (10..1000) mapped onto io.weight (1..10000)."""
    return 1 + (blkio_weight - 10) * 9999 // 990


def plan(resources: Resources | None) -> list[Write]:
    """The cgroupfs writes that set `resources` on v2."""
    from berth.runtime.cgroups.plan import Write

    if resources is None:
        return []
    writes: list[Write] = []
    mem = resources.memory
    if mem is not None:
        if mem.limit is not None:
            writes.append(Write("memory", "memory.max", "max" if mem.limit < 0 else str(mem.limit)))
        if mem.reservation is not None:
            writes.append(Write("memory", "memory.low", str(mem.reservation)))
        if mem.swap is not None:
            if mem.swap < 0:
                swap = "max"
            elif mem.limit is None or mem.limit < 0:
                raise InvalidArgument("memory.swap needs memory.limit on cgroup v2")
            else:
                swap = str(mem.swap - mem.limit)
            writes.append(Write("memory", "memory.swap.max", swap))
        if mem.disable_oom_killer:
            writes.append(Write("memory", "memory.oom.group", "0"))
    cpu = resources.cpu
    if cpu is not None:
        if cpu.shares:
            writes.append(Write("cpu", "cpu.weight", str(_weight_from_shares(cpu.shares))))
        if cpu.quota or cpu.period:
            quota = "max" if not cpu.quota or cpu.quota < 0 else str(cpu.quota)
            writes.append(Write("cpu", "cpu.max", f"{quota} {cpu.period or 100000}"))
        if cpu.burst is not None:
            writes.append(Write("cpu", "cpu.max.burst", str(cpu.burst)))
        if cpu.idle is not None:
            writes.append(Write("cpu", "cpu.idle", str(cpu.idle)))
        if cpu.cpus:
            writes.append(Write("cpuset", "cpuset.cpus", cpu.cpus))
        if cpu.mems:
            writes.append(Write("cpuset", "cpuset.mems", cpu.mems))
    if resources.pids is not None:
        limit = resources.pids.limit
        writes.append(Write("pids", "pids.max", str(limit) if limit > 0 else "max"))
    bio = resources.block_io
    if bio is not None:
        if bio.weight:
            writes.append(Write("io", "io.weight", f"default {_io_weight(bio.weight)}"))
        for attr, key in (
            ("throttle_read_bps_device", "rbps"),
            ("throttle_write_bps_device", "wbps"),
            ("throttle_read_iops_device", "riops"),
            ("throttle_write_iops_device", "wiops"),
        ):
            for d in getattr(bio, attr):
                writes.append(Write("io", "io.max", f"{d.major}:{d.minor} {key}={d.rate}"))
    for h in resources.hugepage_limits:
        writes.append(Write("hugetlb", f"hugetlb.{h.page_size}.max", str(h.limit)))
    for file, value in resources.unified.items():
        if "/" in file or file.startswith("."):
            raise InvalidArgument(f"resources.unified: invalid file name {file!r}")
        writes.append(Write(file.split(".")[0], file, value))
    return writes


class Manager:
    """The container's directory in the unified hierarchy.

    Device rules need an eBPF program on v2; berth-runc does not attach one yet,
    so `resources.devices` is not enforced on pure v2 hosts (see docs/runtime.md).
    """

    version = 2

    def __init__(self, path: str, created: list[str]) -> None:
        self._path = path
        self._created = created

    @classmethod
    def for_path(cls, cgroups_path: str, hierarchies: list | None = None) -> Manager:
        """`hierarchies`: mounts.host_hierarchies(), when the caller has them already."""
        from berth.runtime.cgroups.mounts import host_hierarchies, own_cgroups

        found = host_hierarchies() if hierarchies is None else hierarchies
        mounts = [h for h in found if h.version == 2]
        if not mounts:
            raise InvalidArgument("no cgroup v2 hierarchy is mounted")
        root = mounts[0].mountpoint
        base = root if cgroups_path.startswith("/") else root + own_cgroups().get("", "/")
        return cls(os.path.normpath(base + "/" + cgroups_path), [])

    @classmethod
    def from_paths(cls, saved: dict) -> Manager:
        return cls(saved["dir"], list(saved["created"]))

    def paths(self) -> dict:
        return {"version": 2, "dir": self._path, "created": self._created}

    def mount_sources(self) -> dict[str, str]:
        return {"": self._path}

    def create(self, resources: Resources | None) -> None:
        writes = plan(resources)
        missing = []
        p = self._path
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        needed = {w.controller for w in writes} & set(_read(p, "cgroup.controllers").split())
        for d in reversed(missing):
            parent = os.path.dirname(d)
            for c in needed:
                _write(parent, "cgroup.subtree_control", f"+{c}")
            try:
                os.mkdir(d, 0o755)
            except FileExistsError:
                continue
            self._created.append(d)
        for w in writes:
            _write(self._path, w.file, w.value)

    def update(self, resources: Resources) -> None:
        """Write new limits into the existing cgroup (`berth-runc update`)."""
        for w in plan(resources):
            _write(self._path, w.file, w.value)

    def add(self, pid: int) -> None:
        _write(self._path, "cgroup.procs", str(pid))

    # v2 moves whole processes only (cgroup.threads needs a threaded subtree), each
    # move taking the kernel's slow path after a quiet spell: the runtime moves the
    # init by pid while it builds its rootfs, and warm.py hides the wait.
    cheap_self_join = False

    def join_self(self) -> None:
        _write(self._path, "cgroup.procs", "0")

    def _set_frozen(self, value: str) -> None:
        _write(self._path, "cgroup.freeze", value)
        deadline = time.monotonic() + 10
        want = "frozen 1" if value == "1" else "frozen 0"
        while want not in _read(self._path, "cgroup.events"):
            if time.monotonic() > deadline:
                raise OSError(errno.ETIMEDOUT, f"{self._path} did not reach {want}")
            time.sleep(0.001)

    def freeze(self) -> None:
        self._set_frozen("1")

    def thaw(self) -> None:
        self._set_frozen("0")

    def frozen(self) -> bool:
        try:
            return _read(self._path, "cgroup.freeze").strip() == "1"
        except FileNotFoundError:
            return False

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in _read(self._path, "cgroup.procs").split()]
        except FileNotFoundError:
            return []

    def destroy(self) -> None:
        for path in sorted(self._created, key=len, reverse=True):
            _rmdir(path)


def _read(directory: str, file: str) -> str:
    with open(os.path.join(directory, file)) as f:
        return f.read()


def _write(directory: str, file: str, value: str) -> None:
    path = os.path.join(directory, file)
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise OSError(e.errno, f"write {value!r} to {path}: {e.strerror}") from e

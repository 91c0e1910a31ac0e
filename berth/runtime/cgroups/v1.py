"""cgroup v1: one directory per mounted controller hierarchy."""

from __future__ import annotations

import errno
import os
import time

from berth.errors import InvalidArgument

# Only `create` plans writes and finds hierarchies; the other verbs (delete,
# pause, ps) rebuild the manager from its saved paths and must stay cheap to
# import, so the spec model, plans and mount parsing are imported where used.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.oci.spec import Resources
    from berth.runtime.cgroups.plan import Write

# The controllers whose files this manager writes; other v1 hierarchies
# (name=systemd, net_cls, ...) are only joined, so `delete` can remove them too.


def plan(resources: Resources | None) -> list[Write]:
    """The cgroupfs writes that set `resources` on v1, in the order they must happen."""
    from berth.runtime.cgroups.plan import Write, device_rules

    if resources is None:
        return []
    writes: list[Write] = []
    mem = resources.memory
    if mem is not None:
        if mem.limit is not None:
            writes.append(Write("memory", "memory.limit_in_bytes", str(mem.limit)))
        if mem.swap is not None:
            writes.append(Write("memory", "memory.memsw.limit_in_bytes", str(mem.swap)))
        if mem.reservation is not None:
            writes.append(Write("memory", "memory.soft_limit_in_bytes", str(mem.reservation)))
        if mem.swappiness is not None and mem.swappiness >= 0:
            writes.append(Write("memory", "memory.swappiness", str(mem.swappiness)))
        if mem.disable_oom_killer:
            writes.append(Write("memory", "memory.oom_control", "1"))
    cpu = resources.cpu
    if cpu is not None:
        if cpu.shares:
            writes.append(Write("cpu", "cpu.shares", str(cpu.shares)))
        if cpu.period:
            writes.append(Write("cpu", "cpu.cfs_period_us", str(cpu.period)))
        if cpu.quota:
            writes.append(Write("cpu", "cpu.cfs_quota_us", str(cpu.quota)))
        if cpu.burst is not None:
            writes.append(Write("cpu", "cpu.cfs_burst_us", str(cpu.burst)))
        if cpu.realtime_period:
            writes.append(Write("cpu", "cpu.rt_period_us", str(cpu.realtime_period)))
        if cpu.realtime_runtime:
            writes.append(Write("cpu", "cpu.rt_runtime_us", str(cpu.realtime_runtime)))
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
            writes.append(Write("blkio", "blkio.weight", str(bio.weight)))
        if bio.leaf_weight:
            writes.append(Write("blkio", "blkio.leaf_weight", str(bio.leaf_weight)))
        for d in bio.weight_device:
            if d.weight:
                writes.append(
                    Write("blkio", "blkio.weight_device", f"{d.major}:{d.minor} {d.weight}")
                )
        for attr, file in (
            ("throttle_read_bps_device", "blkio.throttle.read_bps_device"),
            ("throttle_write_bps_device", "blkio.throttle.write_bps_device"),
            ("throttle_read_iops_device", "blkio.throttle.read_iops_device"),
            ("throttle_write_iops_device", "blkio.throttle.write_iops_device"),
        ):
            for d in getattr(bio, attr):
                writes.append(Write("blkio", file, f"{d.major}:{d.minor} {d.rate}"))
    for h in resources.hugepage_limits:
        writes.append(Write("hugetlb", f"hugetlb.{h.page_size}.limit_in_bytes", str(h.limit)))
    net = resources.network
    if net is not None:
        if net.class_id is not None:
            writes.append(Write("net_cls", "net_cls.classid", str(net.class_id)))
        for p in net.priorities:
            writes.append(Write("net_prio", "net_prio.ifpriomap", f"{p.name} {p.priority}"))
    for allow, rule in device_rules(resources):
        writes.append(Write("devices", "devices.allow" if allow else "devices.deny", rule))
    if resources.unified:
        raise InvalidArgument("resources.unified needs cgroup v2; this host uses cgroup v1")
    return writes


# blkio.weight is gone on kernels where only BFQ implements weights.
_ALTERNATIVES = {
    "blkio.weight": "blkio.bfq.weight",
    "blkio.weight_device": "blkio.bfq.weight_device",
}


class Manager:
    """The container's cgroup in every v1 hierarchy the host mounts."""

    version = 1

    def __init__(self, dirs: dict[str, str], created: list[str]) -> None:
        self._dirs = dirs  # hierarchy key -> the container's directory
        self._created = created  # directories this manager made, parents first

    @classmethod
    def for_path(cls, cgroups_path: str, hierarchies: list | None = None) -> Manager:
        """`hierarchies`: mounts.host_hierarchies(), when the caller has them already."""
        from berth.runtime.cgroups.mounts import host_hierarchies, own_cgroups

        dirs: dict[str, str] = {}
        own = None
        for h in host_hierarchies() if hierarchies is None else hierarchies:
            if h.version != 1:
                continue
            if cgroups_path.startswith("/"):
                base = h.mountpoint
                rel = cgroups_path
            else:
                own = own if own is not None else own_cgroups()
                base = h.mountpoint + own.get(h.name, "/")
                rel = cgroups_path
            dirs[h.name] = os.path.normpath(base + "/" + rel)
        if not dirs:
            raise InvalidArgument("no cgroup v1 hierarchy is mounted")
        return cls(dirs, [])

    @classmethod
    def from_paths(cls, saved: dict) -> Manager:
        return cls(dict(saved["dirs"]), list(saved["created"]))

    def paths(self) -> dict:
        return {"version": 1, "dirs": self._dirs, "created": self._created}

    def mount_sources(self) -> dict[str, str]:
        return dict(self._dirs)

    def _dir(self, controller: str) -> str | None:
        for key, path in self._dirs.items():
            if controller in key.split(","):
                return path
        return None

    def create(self, resources: Resources | None) -> None:
        writes = plan(resources)
        for key, path in self._dirs.items():
            self._make(key, path)
        for w in writes:
            self._write(w)

    def update(self, resources: Resources) -> None:
        """Write new limits into the existing cgroup (`berth-runc update`). The kernel
        keeps memory <= memory+swap at every step, so a limit growing past the current
        memsw limit needs the memsw write first."""
        writes = plan(resources)
        limit = next((w for w in writes if w.file == "memory.limit_in_bytes"), None)
        memsw = next((w for w in writes if w.file == "memory.memsw.limit_in_bytes"), None)
        if limit is not None and memsw is not None:
            current = self._read_memsw()
            if current is not None and int(limit.value) > current:
                writes.remove(memsw)
                writes.insert(writes.index(limit), memsw)
        for w in writes:
            self._write(w)

    def _read_memsw(self) -> int | None:
        directory = self._dir("memory")
        try:
            with open(os.path.join(directory or "", "memory.memsw.limit_in_bytes")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def _make(self, key: str, path: str) -> None:
        missing = []
        p = path
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o755)
            except FileExistsError:
                continue
            self._created.append(d)
            if "cpuset" in key.split(","):
                # A new v1 cpuset is empty; it cannot hold a task until it has cpus and mems.
                for f in ("cpuset.cpus", "cpuset.mems"):
                    _put(os.path.join(d, f), _get(os.path.join(os.path.dirname(d), f)).strip())

    def _write(self, w: Write) -> None:
        directory = self._dir(w.controller)
        if directory is None:
            raise InvalidArgument(f"cgroup controller {w.controller} is not mounted on this host")
        path = os.path.join(directory, w.file)
        if w.file in _ALTERNATIVES and not os.path.exists(path):
            path = os.path.join(directory, _ALTERNATIVES[w.file])
        try:
            _put(path, w.value)
        except OSError as e:
            raise OSError(e.errno, f"write {w.value!r} to {path}: {e.strerror}") from e

    def add(self, pid: int) -> None:
        for path in self._dirs.values():
            _put(os.path.join(path, "cgroup.procs"), str(pid))

    cheap_self_join = True

    def join_self(self) -> None:
        """Move this (single-threaded) process in by writing "0" to each `tasks` file.

        Moving a whole process (cgroup.procs, or any pid) takes the kernel's
        global cgroup_threadgroup_rwsem for writing, and the first such move
        after a quiet spell waits for an RCU grace period: 5-15 ms here, the
        largest single cost of a container start (runc pays it too). Moving the
        calling thread itself ("0" in `tasks`) needs no threadgroup lock: 0.1-0.4
        ms. For a freshly forked child, its only thread is the whole process.
        """
        for path in self._dirs.values():
            _put(os.path.join(path, "tasks"), "0")

    def _freezer(self) -> str:
        directory = self._dir("freezer")
        if directory is None:
            raise InvalidArgument("the freezer cgroup controller is not mounted on this host")
        return os.path.join(directory, "freezer.state")

    def _set_freezer(self, state: str) -> None:
        path = self._freezer()
        deadline = time.monotonic() + 10
        while True:
            with open(path, "w") as f:
                f.write(state)
            with open(path) as f:
                if f.read().strip() == state:
                    return
            if time.monotonic() > deadline:
                raise OSError(errno.ETIMEDOUT, f"{path} did not reach {state}")
            time.sleep(0.001)

    def freeze(self) -> None:
        self._set_freezer("FROZEN")

    def thaw(self) -> None:
        self._set_freezer("THAWED")

    def frozen(self) -> bool:
        directory = self._dir("freezer")
        if directory is None:
            return False
        try:
            with open(os.path.join(directory, "freezer.state")) as f:
                return f.read().strip() != "THAWED"
        except FileNotFoundError:
            return False

    def pids(self) -> list[int]:
        directory = self._dir("pids") or self._dir("memory") or next(iter(self._dirs.values()))
        try:
            with open(os.path.join(directory, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def destroy(self) -> None:
        """Remove the directories this manager made, deepest first; retry while busy."""
        for path in sorted(self._created, key=len, reverse=True):
            _rmdir(path)


def _put(path: str, value: str) -> None:
    """Write `value` to a cgroupfs file in one write(2) (each write is one command
    to the kernel), without the buffered file object's extra system calls.
    (O_CREAT and O_TRUNC change nothing on cgroupfs; tests use plain files.)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _get(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def _rmdir(path: str) -> None:
    deadline = time.monotonic() + 5
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise OSError(e.errno, f"remove cgroup {path}: {e.strerror}") from e
            time.sleep(0.005)

"""Where the host mounts its cgroup hierarchies, and which cgroup a process is in."""

from __future__ import annotations


class Hierarchy:
    """One mounted cgroup tree: v1 has one per controller set, v2 a single one.
    (A plain class: `dataclasses` costs every berth-runc start more than it saves.)"""

    __slots__ = ("controllers", "mountpoint", "name", "version")

    def __init__(
        self, version: int, mountpoint: str, controllers: tuple[str, ...], name: str
    ) -> None:
        self.version = version
        self.mountpoint = mountpoint
        self.controllers = controllers  # v1: from the mount's options; v2: empty
        self.name = name  # v1: the mount's options key ("cpu,cpuacct", "name=systemd"); v2: ""

    def __repr__(self) -> str:
        return f"Hierarchy({self.version}, {self.mountpoint!r}, {self.controllers}, {self.name!r})"


# v1 controller names; the other words of a cgroup mount's options are flags (xattr, ...).
V1_CONTROLLERS = frozenset(
    {
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "blkio",
        "perf_event",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
        "debug",
    }
)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def host_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    found: list[Hierarchy] = []
    seen: set[str] = set()
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, super_opts = right.split()[:3]
            if fstype not in ("cgroup", "cgroup2"):
                continue
            mountpoint = _unescape(left.split()[4])
            if fstype == "cgroup2":
                found.append(Hierarchy(2, mountpoint, (), ""))
                continue
            opts = super_opts.split(",")
            controllers = tuple(o for o in opts if o in V1_CONTROLLERS)
            names = [o for o in opts if o.startswith("name=")]
            key = ",".join(controllers) or (names[0] if names else "")
            if key in seen:  # the same hierarchy mounted twice
                continue
            seen.add(key)
            found.append(Hierarchy(1, mountpoint, controllers, key))
    return found


def own_cgroups(pid: str = "self") -> dict[str, str]:
    """/proc/PID/cgroup as {hierarchy key: path}; the v2 entry has key ""."""
    result: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _hid, key, path = line.rstrip("\n").split(":", 2)
            result[key] = path
    return result

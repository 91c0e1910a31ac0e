"""cgroup v1 and v2: resources planned as writes, and a manager on plain files."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.oci.spec import Resources
from berth.runtime.cgroups import v1, v2
from berth.runtime.cgroups.host import cgroups_path
from berth.runtime.cgroups.mounts import host_hierarchies
from berth.runtime.cgroups.plan import Write


def resources(data: dict) -> Resources:
    from berth.oci.spec import _load

    return _load(Resources, data, "resources")


FULL = {
    "memory": {"limit": 1000, "reservation": 500, "swap": 2000},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
    "pids": {"limit": 10},
    "blockIO": {"weight": 500},
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
    ],
}


def test_v1_plan():
    writes = v1.plan(resources(FULL))
    assert writes[:3] == [
        Write("memory", "memory.limit_in_bytes", "1000"),
        Write("memory", "memory.memsw.limit_in_bytes", "2000"),
        Write("memory", "memory.soft_limit_in_bytes", "500"),
    ]
    assert Write("cpu", "cpu.cfs_period_us", "100000") in writes
    assert writes.index(Write("cpu", "cpu.cfs_period_us", "100000")) < writes.index(
        Write("cpu", "cpu.cfs_quota_us", "50000")
    )
    assert Write("cpuset", "cpuset.cpus", "0-1") in writes
    assert Write("pids", "pids.max", "10") in writes
    assert Write("blkio", "blkio.weight", "500") in writes
    devices = [w for w in writes if w.controller == "devices"]
    assert devices[0] == Write("devices", "devices.deny", "a")
    assert devices[1] == Write("devices", "devices.allow", "c 1:3 rw")
    assert Write("devices", "devices.allow", "c 136:* rwm") in devices  # the defaults follow


def test_v1_refuses_unified():
    with pytest.raises(InvalidArgument):
        v1.plan(resources({"unified": {"memory.high": "1"}}))


def test_v2_plan_converts_units():
    writes = v2.plan(resources(FULL))
    assert Write("memory", "memory.max", "1000") in writes
    assert Write("memory", "memory.swap.max", "1000") in writes  # swap minus limit
    assert Write("memory", "memory.low", "500") in writes
    assert Write("cpu", "cpu.weight", "39") in writes
    assert Write("cpu", "cpu.max", "50000 100000") in writes
    assert Write("pids", "pids.max", "10") in writes
    assert Write("io", "io.weight", "default 4950") in writes
    assert v2.plan(resources({"pids": {"limit": 0}})) == [Write("pids", "pids.max", "max")]
    assert v2.plan(resources({"unified": {"memory.high": "5"}})) == [
        Write("memory", "memory.high", "5")
    ]
    with pytest.raises(InvalidArgument):
        v2.plan(resources({"unified": {"../x": "1"}}))


def test_systemd_style_paths():
    assert cgroups_path(None, "c1") == "c1"
    assert cgroups_path(None, "c1", version=2) == "/c1"
    assert cgroups_path("/a/b", "c1") == "/a/b"
    assert cgroups_path("system.slice:berth:c1", "c1") == "/system.slice/berth-c1.scope"


def test_v1_manager_on_plain_files(tmp_path: Path):
    """A cgroupfs is just files: the manager makes dirs, writes limits, removes what it made."""
    parent = tmp_path / "memory"
    parent.mkdir()
    leaf = parent / "berth" / "c1"
    manager = v1.Manager({"memory": str(leaf)}, [])
    manager.create(resources({"memory": {"limit": 4096}}))
    assert (leaf / "memory.limit_in_bytes").read_text() == "4096"
    manager.add(123)
    assert (leaf / "cgroup.procs").read_text() == "123"
    assert manager.pids() == [123]
    saved = manager.paths()
    assert saved["created"] == [str(parent / "berth"), str(leaf)]
    for f in leaf.iterdir():
        f.unlink()  # cgroupfs directories hold no removable files; plain dirs do
    v1.Manager.from_paths(saved).destroy()
    assert not (parent / "berth").exists()


def test_host_hierarchies_parse(tmp_path: Path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "32 25 0:28 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "33 25 0:29 / /mnt/other rw - ext4 /dev/sda rw\n"
    )
    found = host_hierarchies(str(info))
    assert [(h.version, h.mountpoint, h.name) for h in found] == [
        (2, "/sys/fs/cgroup/unified", ""),
        (1, "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"),
        (1, "/sys/fs/cgroup/systemd", "name=systemd"),
    ]
    assert found[1].controllers == ("cpu", "cpuacct")

"""The rootfs steps against a recording fake of the berth/linux mount seam:
which mount(2) calls, in which order, with which flags (no root needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.linux import mount as m
from berth.oci.spec import Mount
from berth.runtime import rootfs


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mount(self, source, target, fstype=None, flags=0, data=None) -> None:
        self.calls.append((source, target, fstype, flags, data))


@pytest.fixture
def seam(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(rootfs.m, "mount", recorder.mount)
    monkeypatch.setattr(rootfs, "locked_flags", lambda path: 0)
    return recorder


def test_bind_with_flags_is_bind_then_remount_then_propagation(seam: Recorder, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    source = tmp_path / "data"
    source.mkdir()
    mnt = Mount("/data", "bind", str(source), ["rbind", "ro", "nosuid", "rprivate"])
    rootfs.mount_one(str(root), str(tmp_path), mnt, {}, own_cgroupns=False)
    dest = str(root / "data")
    assert seam.calls == [
        (str(source), dest, None, m.MS_BIND | m.MS_REC, None),
        (None, dest, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_NOSUID, None),
        (None, dest, None, m.MS_PRIVATE | m.MS_REC, None),
    ]
    assert (root / "data").is_dir()


def test_file_bind_creates_a_file_target(seam: Recorder, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    source = tmp_path / "hosts"
    source.write_text("127.0.0.1 localhost\n")
    rootfs.mount_one(
        str(root), str(tmp_path), Mount("/etc/hosts", "bind", "hosts", ["bind"]), {}, False
    )
    assert (root / "etc" / "hosts").is_file()  # relative source: from the bundle
    assert seam.calls == [(str(source), str(root / "etc/hosts"), None, m.MS_BIND, None)]


def test_filesystem_mount_gets_flags_and_data(seam: Recorder, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to("/real")  # a symlink in the image stays inside the root
    rootfs.mount_one(
        str(root),
        str(tmp_path),
        Mount("/link/tmp", "tmpfs", "tmpfs", ["nosuid", "size=1m"]),
        {},
        False,
    )
    assert seam.calls == [("tmpfs", str(root / "real/tmp"), "tmpfs", m.MS_NOSUID, "size=1m")]


def test_v1_cgroup_mount_binds_the_containers_own_dirs(seam: Recorder, tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    sources = {"memory": "/sys/fs/cgroup/memory/c1", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c1"}
    rootfs.mount_one(
        str(root),
        str(tmp_path),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["ro"]),
        sources,
        False,
    )
    dest = root / "sys/fs/cgroup"
    targets = [c[1] for c in seam.calls]
    assert targets[0] == str(dest)  # the tmpfs first
    assert (str(sources["memory"]), str(dest / "memory")) in [(c[0], c[1]) for c in seam.calls]
    assert (dest / "cpu").is_symlink() and (dest / "cpuacct").is_symlink()
    assert seam.calls[-1][3] & m.MS_RDONLY  # and the tmpfs made read-only last


def test_masks_and_readonly_paths(seam: Recorder, tmp_path: Path):
    directory = tmp_path / "d"
    directory.mkdir()
    file = tmp_path / "f"
    file.write_text("x")
    rootfs.mask_paths([str(directory), str(file), str(tmp_path / "missing")])
    assert seam.calls == [
        ("tmpfs", str(directory), "tmpfs", m.MS_RDONLY, None),
        ("/dev/null", str(file), None, m.MS_BIND, None),
    ]
    seam.calls.clear()
    rootfs.readonly_paths([str(directory), str(tmp_path / "missing")])
    flags = (
        m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
    )
    assert seam.calls == [
        (str(directory), str(directory), None, m.MS_BIND | m.MS_REC, None),
        (None, str(directory), None, flags, None),
    ]

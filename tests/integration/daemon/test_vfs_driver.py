"""berthd on the vfs storage driver: containers run, and removing them leaves no mount.

vfs bind-mounts a plain copy as the rootfs; a bind mount on the same filesystem
is invisible to os.path.ismount, which once made every removed container leak it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from .conftest import Berthd, _mounts_under


@pytest.fixture
def vfs_berthd():
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    root = Path(tempfile.mkdtemp(prefix="bd-vfs-", dir="/tmp"))
    d = Berthd(
        root, root / "data", root / "exec", root / "b.sock", root / "berthd.log",
        extra_args=("--storage-driver", "vfs"),
    )  # fmt: skip
    d.start()
    try:
        status, body = d.request("POST", "/berth/images/busybox")
        assert status == 201, body
        yield d
    finally:
        d.stop()
        for target in reversed(_mounts_under([d.data_root, d.exec_root])):
            os.system(f"umount -l '{target}'")


def test_vfs_run_and_rm_leave_no_rootfs_mount(vfs_berthd):
    d = vfs_berthd
    assert d.docker("info", "--format", "{{.Driver}}").stdout.strip() == "vfs"
    out = d.docker("run", "--rm", "busybox", "sh", "-c", "echo on vfs > /f; cat /f")
    assert out.stdout == "on vfs\n"
    d.docker("run", "-d", "--name", "kept", "busybox", "sleep", "1000")
    d.docker("rm", "-f", "kept")
    containers = d.data_root / "containers"
    assert _mounts_under([containers]) == []

"""berthd on the vfs storage driver: containers run, and removing them leaves no mount.

vfs bind-mounts a plain copy as the rootfs; a bind mount on the same filesystem
is invisible to os.path.ismount, which once made every removed container leak it.
"""

from __future__ import annotations

import pytest

from tests.support.berthd import private_berthd
from tests.support.mounts import mounts_under


@pytest.fixture
def vfs_berthd():
    with private_berthd("bd-vfs-", storage_driver="vfs") as d:
        yield d


def test_vfs_run_and_rm_leave_no_rootfs_mount(vfs_berthd):
    d = vfs_berthd
    assert d.docker("info", "--format", "{{.Driver}}").stdout.strip() == "vfs"
    out = d.docker("run", "--rm", "busybox", "sh", "-c", "echo on vfs > /f; cat /f")
    assert out.stdout == "on vfs\n"
    d.docker("run", "-d", "--name", "kept", "busybox", "sleep", "1000")
    d.docker("rm", "-f", "kept")
    containers = d.data_root / "containers"
    assert mounts_under(containers) == []

"""The local driver's mounted volumes (-o type=tmpfs) on the real kernel."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from berth.db import open_db
from berth.errors import InternalError
from berth.volumes.manager import VolumeManager
from berth.volumes.mounts import collect


@pytest.fixture
def vm(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    mgr = VolumeManager(open_db(tmp_path / "berth.db"), tmp_path / "data")
    yield mgr
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1]
        if target.startswith(str(tmp_path)):
            subprocess.run(["umount", "-l", target], check=False)


def test_tmpfs_volume_is_mounted_for_its_first_user_and_unmounted_after_the_last(vm):
    vm.create("scratch", options={"type": "tmpfs", "device": "tmpfs", "o": "size=4m,mode=0755"})
    mp = vm.mountpoint(vm.get("scratch"))
    assert not os.path.ismount(mp)
    vm.resolve("c1", collect(["scratch:/scratch"]))
    assert os.path.ismount(mp)
    vm.resolve("c2", collect(["scratch:/scratch"]))
    (mp / "f").write_text("x")
    vm.release("c1")
    assert os.path.ismount(mp)  # c2 still uses it
    vm.release("c2")
    assert not os.path.ismount(mp)
    assert not (mp / "f").exists()  # tmpfs content goes with the mount
    vm.remove("scratch")
    assert not mp.parent.exists()


def test_a_failing_mount_is_reported_and_leaves_no_reference(vm):
    vm.create("broken", options={"type": "ext4", "device": "/dev/berth-no-such-device"})
    with pytest.raises(InternalError, match="mounting volume"):
        vm.resolve("c1", collect(["broken:/x"]))
    assert vm.users("broken") == []
    vm.remove("broken")

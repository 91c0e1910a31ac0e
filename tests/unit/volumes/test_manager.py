import os
from pathlib import Path

import pytest

from berth.db import open_db
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.volumes.manager import VolumeManager, inherited_mounts
from berth.volumes.mounts import collect


@pytest.fixture
def vm(tmp_path):
    return VolumeManager(open_db(tmp_path / "berth.db"), tmp_path / "data")


def test_create_inspect_list_remove(vm, tmp_path):
    v = vm.create("dbdata", labels={"tier": "db"})
    info = vm.inspect("dbdata")
    assert info["Mountpoint"] == str(tmp_path / "data" / "volumes" / "dbdata" / "_data")
    assert (
        info["Labels"] == {"tier": "db"} and info["Driver"] == "local" and info["Scope"] == "local"
    )
    assert os.path.isdir(info["Mountpoint"])
    assert vm.create("dbdata") == v  # idempotent, as Docker
    assert [x["Name"] for x in vm.list()] == ["dbdata"]
    vm.remove("dbdata")
    assert not (tmp_path / "data" / "volumes" / "dbdata").exists()
    with pytest.raises(NotFound, match="no such volume"):
        vm.inspect("dbdata")
    with pytest.raises(NotFound):
        vm.remove("dbdata")
    vm.remove("dbdata", force=True)
    with pytest.raises(InvalidArgument):
        vm.create("bad/name")
    with pytest.raises(InvalidArgument):
        vm.create("v2", options={"bogus": "1"})
    assert vm.list() == []


def test_in_use_volume_is_refused_until_released(vm, tmp_path):
    mounts = vm.resolve("c1", collect(["data:/data"]))
    assert mounts[0].oci["source"].endswith("/volumes/data/_data")
    assert mounts[0].inspect["Type"] == "volume" and mounts[0].inspect["Name"] == "data"
    with pytest.raises(Conflict, match="in use"):
        vm.remove("data")
    vm.release("c1")
    vm.remove("data")


def test_copy_up_fills_a_new_volume_once(vm, tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "var" / "lib" / "db").mkdir(parents=True)
    (rootfs / "var" / "lib" / "db" / "seed.txt").write_text("seed\n")
    (rootfs / "var" / "lib" / "db" / "link").symlink_to("/etc/shadow")
    m = vm.resolve("c1", collect(["db:/var/lib/db"]), rootfs)[0]
    src = m.oci["source"]
    assert Path(src, "seed.txt").read_text() == "seed\n"
    assert os.readlink(os.path.join(src, "link")) == "/etc/shadow"
    with open(os.path.join(src, "seed.txt"), "w") as f:
        f.write("changed\n")
    vm.release("c1")
    vm.resolve("c2", collect(["db:/var/lib/db"]), rootfs)
    assert Path(src, "seed.txt").read_text() == "changed\n"  # not empty: no copy


def test_anonymous_volumes_and_rm_v(vm, tmp_path):
    got = vm.resolve("c1", collect(["/cache"], image_volumes=["/data"]))
    names = [m.volume for m in got]
    assert all(len(n) == 64 for n in names)
    assert vm.release("c1", remove_anonymous=True) == names
    assert vm.list() == []


def test_binds_create_with_v_but_not_with_mount(vm, tmp_path):
    host = tmp_path / "made" / "here"
    m = vm.resolve("c1", collect([f"{host}:/x:ro"]))[0]
    assert host.is_dir() and "ro" in m.oci["options"] and m.inspect["RW"] is False
    missing = tmp_path / "missing"
    with pytest.raises(InvalidArgument, match="does not exist"):
        vm.resolve("c2", collect([], [{"Type": "bind", "Source": str(missing), "Target": "/x"}]))
    assert not missing.exists()


def test_failed_resolve_leaves_no_half_created_volume(vm, tmp_path):
    with pytest.raises(InvalidArgument):
        vm.resolve(
            "c1",
            collect(
                ["newvol:/a"], [{"Type": "bind", "Source": str(tmp_path / "no"), "Target": "/b"}]
            ),
        )
    assert vm.list() == []


def test_volumes_from_and_tmpfs(vm):
    first = vm.resolve("c1", collect(["shared:/shared"], tmpfs={"/run": "size=1m"}))
    inherited = inherited_mounts([m.inspect for m in first], "ro")
    assert [(m.type, m.source, m.readonly) for m in inherited] == [("volume", "shared", True)]
    second = vm.resolve("c2", collect([], inherited=inherited))
    assert second[0].oci["source"] == first[0].oci["source"] and "ro" in second[0].oci["options"]
    tmp = next(m for m in first if m.oci["type"] == "tmpfs")
    assert "size=1m" in tmp.oci["options"] and "noexec" in tmp.oci["options"]
    vm.release("c1")
    with pytest.raises(Conflict):
        vm.remove("shared")  # c2 still uses it


def test_prune_only_anonymous_unless_all(vm):
    vm.create("named")
    anon = vm.create()
    removed, _ = vm.prune()
    assert removed == [anon.name]
    removed, _ = vm.prune(all_volumes=True)
    assert removed == ["named"]

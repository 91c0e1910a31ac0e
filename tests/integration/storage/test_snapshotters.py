"""One conformance suite run against every snapshotter (overlay on the real kernel, vfs)."""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import pytest

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.storage import mounting
from berth.storage.layers import apply_layer
from berth.storage.snapshotter import Kind, Snapshotter, get_snapshotter

_spec = importlib.util.spec_from_file_location(
    "_layertar", Path(__file__).parents[2] / "unit" / "storage" / "layertar.py"
)
assert _spec and _spec.loader
_layertar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_layertar)
build, entry = _layertar.build, _layertar.entry


@pytest.fixture(params=["overlay2", "vfs"])
def sn(request: pytest.FixtureRequest, tmp_path: Path) -> Snapshotter:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    return get_snapshotter(request.param, tmp_path / "storage")


def layer(sn: Snapshotter, name: str, parent: str | None, blob: bytes) -> None:
    key = f"extract-{name}"
    sn.prepare(key, parent)
    apply_layer(io.BytesIO(blob), sn.apply_target(key))
    sn.commit(name, key)


def test_unknown_driver(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown storage driver"):
        get_snapshotter("zfs", tmp_path)


def test_layers_stack_and_whiteouts_hide_lower_files(sn: Snapshotter, mountpoint: Path) -> None:
    layer(
        sn,
        "L1",
        None,
        build(
            entry("etc", "dir"),
            entry("etc/a", data=b"a"),
            entry("etc/b", data=b"b"),
            entry("opt", "dir"),
            entry("opt/old", data=b"o"),
            entry("gone", "dir"),
            entry("gone/x", data=b"x"),
        ),
    )
    layer(
        sn,
        "L2",
        "L1",
        build(
            entry("etc", "dir"),
            entry("etc/.wh.a"),
            entry("etc/c", data=b"c"),
            entry("opt", "dir"),
            entry("opt/.wh..wh..opq"),
            entry("opt/new", data=b"n"),
            entry(".wh.gone"),
        ),
    )
    mounts = sn.prepare("ctr", "L2")
    mounting.mount_all(mounts, mountpoint)
    try:
        assert sorted(os.listdir(mountpoint / "etc")) == ["b", "c"]
        assert sorted(os.listdir(mountpoint / "opt")) == ["new"]
        assert not (mountpoint / "gone").exists()
        (mountpoint / "etc" / "b").write_text("changed")
        (mountpoint / "etc" / "c").unlink()
    finally:
        mounting.unmount(mountpoint)
    assert not mounting.is_mounted(mountpoint)
    # the committed layers are untouched by the container's writes
    mounting.mount_all(sn.view("v", "L2"), mountpoint)
    try:
        assert (mountpoint / "etc" / "b").read_text() == "b"
        assert (mountpoint / "etc" / "c").read_text() == "c"
    finally:
        mounting.unmount(mountpoint)


def test_lifecycle_rules(sn: Snapshotter) -> None:
    layer(sn, "base", None, build(entry("f", data=b"12345")))
    assert sn.stat("base").kind is Kind.COMMITTED
    assert sn.usage("base").size == 5
    sn.prepare("child", "base")
    assert sn.stat("child").parent == "base"
    with pytest.raises(Conflict, match="has children"):
        sn.remove("base")
    with pytest.raises(Conflict, match="already exists"):
        sn.prepare("child", "base")
    with pytest.raises(InvalidArgument, match="must be committed"):
        sn.prepare("grandchild", "child")
    with pytest.raises(Conflict):
        sn.apply_target("base")
    sn.remove("child")
    sn.remove("base")
    assert list(sn.walk()) == []
    with pytest.raises(NotFound):
        sn.stat("base")


def test_commit_to_existing_name_conflicts(sn: Snapshotter) -> None:
    layer(sn, "same", None, build(entry("f", data=b"1")))
    sn.prepare("again", None)
    with pytest.raises(Conflict):
        sn.commit("same", "again")
    assert sn.stat("again").kind is Kind.ACTIVE


def test_many_layers_mount(sn: Snapshotter, mountpoint: Path) -> None:
    count = 130 if sn.name == "overlay2" else 20
    parent = None
    for i in range(count):
        layer(sn, f"layer-{i}", parent, build(entry(f"f{i}", data=str(i).encode())))
        parent = f"layer-{i}"
    mounts = sn.prepare("big", parent)
    mounting.mount_all(mounts, mountpoint)
    try:
        assert (mountpoint / "f0").read_text() == "0"
        assert (mountpoint / f"f{count - 1}").read_text() == str(count - 1)
        assert len(os.listdir(mountpoint)) == count
    finally:
        mounting.unmount(mountpoint)


def test_recover_removes_leftovers(sn: Snapshotter) -> None:
    (sn.root / ".tmp-deadbeef").mkdir(parents=True)
    (sn.root / ".tmp-deadbeef" / "x").write_text("half")
    assert sn.recover() == [".tmp-deadbeef"]
    assert not (sn.root / ".tmp-deadbeef").exists()


def test_overlay_whiteout_form(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    sn = get_snapshotter("overlay2", tmp_path)
    sn.prepare("k", None)
    target = sn.apply_target("k")
    apply_layer(
        io.BytesIO(build(entry(".wh.x"), entry("d", "dir"), entry("d/.wh..wh..opq"))), target
    )
    st = os.lstat(target.path / "x")
    assert (
        os.major(st.st_rdev) == 0
        and os.minor(st.st_rdev) == 0
        and (st.st_mode & 0o170000) == 0o020000
    )
    assert os.getxattr(target.path / "d", "trusted.overlay.opaque") == b"y"

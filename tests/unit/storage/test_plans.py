"""Snapshotters return mounts as data: the plans, read without mounting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.storage.overlay import PAGE_LIMIT, OverlaySnapshotter
from berth.storage.vfs import VfsSnapshotter


def _chain(sn, n: int) -> str:
    parent = None
    for i in range(n):
        sn.prepare(f"x{i}", parent)
        sn.commit(f"layer{i}", f"x{i}")
        parent = f"layer{i}"
    return parent


def test_overlay_plan_orders_lowers_nearest_first(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path)
    top = _chain(sn, 3)
    (mount,) = sn.prepare("ctr", top)
    assert mount.type == "overlay" and mount.cwd is None
    opts = dict(o.split("=", 1) for o in mount.options if "=" in o)
    lowers = [Path(p).resolve() for p in opts["lowerdir"].split(":")]
    assert lowers == [sn.upper_dir(f"layer{i}").resolve() for i in (2, 1, 0)]
    assert opts["upperdir"] == str(sn.upper_dir("ctr"))
    assert "workdir" in opts


def test_overlay_plan_without_parent_is_a_bind(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path)
    (mount,) = sn.prepare("solo", None)
    assert mount.type == "bind" and mount.source == str(sn.upper_dir("solo"))


def test_overlay_plan_for_many_layers_uses_short_relative_links(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path / ("deep" * 10))
    top = _chain(sn, 140)
    (mount,) = sn.view("v", top)
    assert mount.cwd == str(sn.root)
    assert len(mount.data()) <= PAGE_LIMIT
    lowers = mount.data().split("lowerdir=")[1].split(",")[0].split(":")
    assert len(lowers) == 140 and all(x.startswith("l/") and len(x) == 14 for x in lowers)


def test_shared_chain_is_one_directory(tmp_path: Path) -> None:
    sn = OverlaySnapshotter(tmp_path)
    _chain(sn, 1)
    sn.prepare("again", None)
    with pytest.raises(Exception, match="already exists"):
        sn.commit("layer0", "again")
    assert len([p for p in tmp_path.iterdir() if p.name != "l"]) == 2


def test_vfs_plan_is_a_bind_of_the_copy(tmp_path: Path) -> None:
    sn = VfsSnapshotter(tmp_path)
    top = _chain(sn, 2)
    (mount,) = sn.prepare("ctr", top)
    assert (mount.type, mount.options) == ("bind", ("rbind", "rw"))
    (view,) = sn.view("ro", top)
    assert view.options == ("rbind", "ro")

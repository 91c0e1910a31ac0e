"""Container ids, paths resolved inside a root, and mount options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.linux import mount as m
from berth.runtime import mountopts
from berth.runtime.paths import check_id, secure_join


@pytest.mark.parametrize("cid", ["abc", "a-b_c.d+e", "A1", "x" * 100])
def test_good_ids(cid: str):
    assert check_id(cid) == cid


@pytest.mark.parametrize("cid", ["", ".", "..", "a/b", "../x", "a b", "é", "a\x00b"])
def test_bad_ids(cid: str):
    with pytest.raises(InvalidArgument):
        check_id(cid)


def test_secure_join_keeps_symlinks_inside(tmp_path: Path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to("../../../../etc")
    (root / "loop").symlink_to("loop")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "up/x") == str(root / "etc/x")
    assert secure_join(str(root), "/../../etc") == str(root / "etc")
    assert secure_join(str(root), "/new/dir") == str(root / "new/dir")
    with pytest.raises(InvalidArgument):
        secure_join(str(root), "/loop/x")


def test_secure_join_never_leaves_root(tmp_path: Path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "a").symlink_to("../../../..")
    resolved = secure_join(str(root), "a/a/etc")
    assert os.path.commonpath([resolved, str(root)]) == str(root)


def test_mount_options():
    o = mountopts.parse(["rbind", "ro", "nosuid", "rslave", "mode=755", "size=1m", "tmpcopyup"])
    assert o.flags == m.MS_BIND | m.MS_REC | m.MS_RDONLY | m.MS_NOSUID
    assert o.propagation == (m.MS_SLAVE | m.MS_REC,)
    assert o.data == "mode=755,size=1m"
    assert o.is_bind
    assert mountopts.parse(["ro", "rw"]).flags == 0
    assert mountopts.parse(["noexec", "exec", "nodev"]).flags == m.MS_NODEV
    assert mountopts.propagation_flag("rprivate") == m.MS_PRIVATE | m.MS_REC

"""Owners, modes, xattrs, device nodes: applied from a layer tar and written back by diff."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from berth.storage.diff import changes, write_diff
from berth.storage.layers import apply_layer
from berth.storage.snapshotter import ApplyTarget, WhiteoutFormat


def _layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        f = tarfile.TarInfo("owned")
        f.size, f.uid, f.gid, f.mode, f.mtime = 3, 1234, 5678, 0o640, 1_600_000_000
        f.pax_headers = {
            "SCHILY.xattr.user.note": "hello",
            "SCHILY.xattr.trusted.overlay.opaque": "y",
        }
        tf.addfile(f, io.BytesIO(b"abc"))
        dev = tarfile.TarInfo("null")
        dev.type, dev.devmajor, dev.devminor, dev.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tf.addfile(dev)
        blk = tarfile.TarInfo("loopish")
        blk.type, blk.devmajor, blk.devminor, blk.mode = tarfile.BLKTYPE, 7, 200, 0o600
        tf.addfile(blk)
    return buf.getvalue()


def test_metadata_applied_and_written_back(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (owners, device nodes)")
    root = tmp_path / "upper"
    root.mkdir()
    apply_layer(io.BytesIO(_layer()), ApplyTarget(root, WhiteoutFormat.OVERLAY))
    st = os.lstat(root / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_mtime) == (
        1234,
        5678,
        0o640,
        1_600_000_000,
    )
    try:
        assert os.getxattr(root / "owned", "user.note") == b"hello"
        user_xattrs = True
    except OSError:
        user_xattrs = False  # filesystem without user xattrs (tmpfs on old kernels)
    # a layer may not forge overlay's own markers
    with pytest.raises(OSError):
        os.getxattr(root / "owned", "trusted.overlay.opaque")
    dev = os.lstat(root / "null")
    assert stat.S_ISCHR(dev.st_mode) and (os.major(dev.st_rdev), os.minor(dev.st_rdev)) == (1, 3)
    blk = os.lstat(root / "loopish")
    assert stat.S_ISBLK(blk.st_mode) and (os.major(blk.st_rdev), os.minor(blk.st_rdev)) == (7, 200)

    assert {(c.kind.letter, c.path) for c in changes(root, [], WhiteoutFormat.OVERLAY)} == {
        ("A", "/owned"),
        ("A", "/null"),
        ("A", "/loopish"),
    }
    out = io.BytesIO()
    write_diff(root, [], WhiteoutFormat.OVERLAY, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        members = {m.name: m for m in tf.getmembers()}
        owned = members["owned"]
        assert (owned.uid, owned.gid, owned.mode, owned.mtime) == (1234, 5678, 0o640, 1_600_000_000)
        if user_xattrs:
            assert owned.pax_headers.get("SCHILY.xattr.user.note") == "hello"
        assert members["null"].ischr() and (members["null"].devmajor, members["null"].devminor) == (
            1,
            3,
        )
        assert tf.extractfile("owned").read() == b"abc"


def test_overlay_upper_back_to_tar_whiteouts(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (whiteout devices, trusted xattrs)")
    lower = tmp_path / "lower"
    (lower / "d").mkdir(parents=True)
    (lower / "gone").write_text("x")
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    os.setxattr(upper / "d", "trusted.overlay.opaque", b"y")
    (upper / "d" / "new").write_text("n")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    out = io.BytesIO()
    write_diff(upper, [lower], WhiteoutFormat.OVERLAY, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        names = tf.getnames()
    assert names == ["d", "d/.wh..wh..opq", "d/new", ".wh.gone"]
    got = {(c.kind.letter, c.path) for c in changes(upper, [lower], WhiteoutFormat.OVERLAY)}
    assert got == {("C", "/d"), ("A", "/d/new"), ("D", "/gone")}

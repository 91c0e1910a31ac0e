"""Applying layer tars: formats, metadata, whiteouts (delete form), and the hostile corpus.

The overlay whiteout form (char devices, trusted xattrs) needs root and is in
tests/integration/storage.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.storage.layers import apply_layer
from berth.storage.snapshotter import ApplyTarget, WhiteoutFormat

_lt = importlib.util.spec_from_file_location("_layertar", Path(__file__).with_name("layertar.py"))
assert _lt and _lt.loader
_layertar = importlib.util.module_from_spec(_lt)
_lt.loader.exec_module(_layertar)
build, entry = _layertar.build, _layertar.entry


def apply(root: Path, blob: bytes, **kw) -> object:
    return apply_layer(io.BytesIO(blob), ApplyTarget(root, WhiteoutFormat.DELETE), **kw)


def tree(root: Path) -> set[str]:
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


@pytest.mark.parametrize("compress", ["", "gzip", "zstd"])
def test_formats_and_diff_id(tmp_path: Path, compress: str) -> None:
    plain = build(entry("etc", "dir"), entry("etc/hello", data=b"hi\n"))
    blob = build(entry("etc", "dir"), entry("etc/hello", data=b"hi\n"), compress=compress)
    diff_id = "sha256:" + hashlib.sha256(plain).hexdigest()
    result = apply(tmp_path, blob, expected_diff_id=diff_id)
    assert result.diff_id == diff_id and result.size == 3
    assert (tmp_path / "etc" / "hello").read_bytes() == b"hi\n"


def test_metadata_links_and_times(tmp_path: Path) -> None:
    blob = build(
        entry("bin", "dir", mode=0o711),
        entry("bin/tool", data=b"x" * 10, mode=0o4755),
        entry("bin/alias", "hardlink", link="bin/tool"),
        entry("bin/sym", "symlink", link="tool"),
        entry("bin/abs", "symlink", link="/etc/passwd"),
        entry("pipe", "fifo"),
    )
    apply(tmp_path, blob)
    st = os.stat(tmp_path / "bin" / "tool")
    assert st.st_mode & 0o7777 == 0o4755
    assert st.st_mtime == 1_700_000_000
    assert os.stat(tmp_path / "bin" / "alias").st_ino == st.st_ino
    assert os.readlink(tmp_path / "bin" / "sym") == "tool"
    assert (
        os.readlink(tmp_path / "bin" / "abs") == "/etc/passwd"
    )  # kept, means the container's /etc
    assert os.stat(tmp_path / "bin").st_mode & 0o777 == 0o711
    assert os.stat(tmp_path / "bin").st_mtime == 1_700_000_000
    assert (tmp_path / "pipe").is_fifo()


def test_whiteouts_delete_in_place(tmp_path: Path) -> None:
    apply(
        tmp_path,
        build(
            entry("a", "dir"),
            entry("a/x", data=b"1"),
            entry("a/y", data=b"2"),
            entry("b", data=b"3"),
        ),
    )
    apply(
        tmp_path,
        build(
            entry(".wh.b"), entry("a", "dir"), entry("a/.wh..wh..opq"), entry("a/new", data=b"n")
        ),
    )
    assert tree(tmp_path) == {"a", "a/new"}


HOSTILE = {
    "dotdot": (build(entry("../escape", data=b"x")), "'..' is not allowed"),
    "dotdot-inside": (build(entry("a/../../escape", data=b"x")), "'..' is not allowed"),
    "absolute": (build(entry("/etc/escape", data=b"x")), "absolute paths"),
    "symlink-escape": (
        build(entry("link", "symlink", link="../../../etc")),
        "leads outside the root",
    ),
    "symlink-escape-deep": (
        build(entry("a", "dir"), entry("a/l", "symlink", link="../../x")),
        "leads outside the root",
    ),
    "hardlink-escape": (
        build(entry("h", "hardlink", link="../../etc/passwd")),
        "'..' is not allowed",
    ),
    "hardlink-absolute": (build(entry("h", "hardlink", link="/etc/passwd")), "absolute paths"),
    "hardlink-missing": (build(entry("h", "hardlink", link="nothere")), "not in the layer"),
    "symlink-replaces-dir": (
        build(
            entry("d", "dir"),
            entry("d/ok", data=b"1"),
            entry("d", "symlink", link="/tmp"),
            entry("d/evil", data=b"2"),
        ),
        "through symlink",
    ),
    "write-through-abs-symlink": (
        build(entry("etc", "symlink", link="/etc"), entry("etc/evil", data=b"x")),
        "through symlink",
    ),
    "hardlink-through-symlink": (
        build(entry("s", "symlink", link="/etc"), entry("h", "hardlink", link="s/passwd")),
        "goes through",
    ),
    "truncated-gzip": (
        build(entry("big", data=os.urandom(200_000)), compress="gzip")[:50_000],
        "gzip|truncated",
    ),
    "not-a-tar": (b"\x00garbage" * 100, "invalid layer tar|truncated"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layers_are_refused(tmp_path: Path, case: str) -> None:
    blob, message = HOSTILE[case]
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "escape"
    with pytest.raises(InvalidArgument, match=message):
        apply(root, blob)
    assert not outside.exists()
    assert not (tmp_path / "evil").exists()


def test_diff_id_mismatch(tmp_path: Path) -> None:
    blob = build(entry("f", data=b"1"))
    with pytest.raises(InvalidArgument, match="layer digest mismatch"):
        apply(tmp_path, blob, expected_diff_id="sha256:" + "0" * 64)

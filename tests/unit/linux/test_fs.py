"""berth/linux/fs.py: a file is replaced whole, and a failed write leaves the old one."""

from __future__ import annotations

import os

import pytest

from berth.linux.fs import replace_file


@pytest.mark.parametrize("durable", [True, False])
def test_replace_file_writes_whole_content_and_mode(tmp_path, durable):
    target = tmp_path / "index.json"
    target.write_text("old")
    replace_file(target, b"x" * 200_000, durable=durable, mode=0o600)
    assert target.read_bytes() == b"x" * 200_000
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path) == ["index.json"]


def test_failed_replace_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "d"
    target.mkdir()  # renaming a file over a directory fails
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        replace_file(target, b"new", durable=True)
    assert (target / "inside").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["d"]

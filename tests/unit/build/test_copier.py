"""Layer tars for COPY/ADD: parent directories, archives, modes (no root needed)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from berth.build import copier
from berth.errors import InvalidArgument


def test_parent_entries_repeat_existing_dirs_and_create_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    os.chmod(tmp_path / "tmp", 0o1777)
    (tmp_path / "link").symlink_to("tmp")
    entries = copier.parent_entries(tmp_path, "tmp/new/file.txt", 1000, 100)
    assert [(e.path, e.mode, e.uid, e.gid) for e in entries] == [
        ("tmp", 0o1777, os.getuid(), os.getgid()),
        ("tmp/new", 0o755, 1000, 100),
    ]
    # a symlinked parent is never replaced by a directory entry
    assert copier.parent_entries(tmp_path, "link/x") == []


def _gz_tar(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in names.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def test_archives_are_recognised_and_streamed_under_the_destination(tmp_path: Path) -> None:
    archive = tmp_path / "a.tgz"
    archive.write_bytes(_gz_tar({"/abs/x.txt": b"x", "rel/y.txt": b"yy", "../evil": b"no"}))
    plain = tmp_path / "plain.gz"
    plain.write_bytes(gzip.compress(b"not a tar"))
    assert copier.archive_kind(archive) == "gzip"
    assert copier.archive_kind(plain) == ""
    assert copier.archive_names(archive) == ["abs/x.txt", "rel/y.txt"]
    out = io.BytesIO()
    copier.write_layer(
        [copier.Entry("opt", "dir", 0o755), copier.Entry("opt", "archive", archive=archive)], out
    )
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        assert tf.getnames() == ["opt", "opt/abs/x.txt", "opt/rel/y.txt"]


def test_entries_keep_modes_and_symlinks(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("data")
    os.chmod(f, 0o741)
    (tmp_path / "l").symlink_to("f")
    assert copier.entry_for(f, "dst/f", 0, 0, None).mode == 0o741
    assert copier.entry_for(f, "dst/f", 0, 0, 0o600).mode == 0o600
    link = copier.entry_for(tmp_path / "l", "dst/l", 0, 0, None)
    assert (link.kind, link.linkname) == ("symlink", "f")
    assert copier.parse_chmod("755") == 0o755
    with pytest.raises(InvalidArgument):
        copier.parse_chmod("u+x")

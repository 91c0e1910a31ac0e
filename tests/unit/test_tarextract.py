"""berth/tarextract.py on this interpreter, and its own fallback for interpreters
without PEP 706 filters (Debian 12's python3.11 is 3.11.2), forced here."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from berth import tarextract


def _tar(entries: list[tuple[str, bytes | None, int]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


@pytest.fixture(params=["native", "fallback"])
def mode(request, monkeypatch):
    if request.param == "native" and not tarextract.HAS_FILTERS:
        pytest.skip("this interpreter has no PEP 706 filters")
    if request.param == "fallback":
        monkeypatch.setattr(tarextract, "HAS_FILTERS", False)
    return request.param


def test_tar_filter_strips_slashes_and_unsafe_bits(tmp_path, mode):
    buf = _tar([("/ro", None, 0o555), ("/ro/f", b"data", 0o4777)])
    with tarfile.open(fileobj=buf) as tf:
        tarextract.extract_all(tf, tmp_path, filter="tar")
    assert (tmp_path / "ro" / "f").read_bytes() == b"data"
    assert os.stat(tmp_path / "ro" / "f").st_mode & 0o7777 == 0o755
    assert os.stat(tmp_path / "ro").st_mode & 0o777 == 0o555  # set after its children


def test_tar_filter_refuses_escapes(tmp_path, mode):
    buf = _tar([("../evil", b"x", 0o644)])
    with tarfile.open(fileobj=buf) as tf, pytest.raises(tarfile.TarError):
        tarextract.extract_all(tf, tmp_path / "in", filter="tar")
    assert not (tmp_path / "evil").exists()


def test_callable_filter_on_a_stream_renames_and_drops(tmp_path, mode):
    def keep_txt(member, dest):
        if not member.name.endswith(".txt"):
            return None
        return tarextract.renamed(member, "renamed-" + member.name)

    buf = _tar([("a.txt", b"A", 0o644), ("b.bin", b"B", 0o644)])
    with tarfile.open(fileobj=buf, mode="r|") as tf:
        tarextract.extract_all(tf, tmp_path, filter=keep_txt)
    assert sorted(os.listdir(tmp_path)) == ["renamed-a.txt"]
    assert (tmp_path / "renamed-a.txt").read_bytes() == b"A"

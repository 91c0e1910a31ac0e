import io
import os
import tarfile

import pytest

from berth.errors import Forbidden, NotFound
from berth.volumes import pathsafe


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0\n")
    (r / "escape").symlink_to("/")
    (r / "up").symlink_to("../../..")
    (r / "rel").symlink_to("etc")
    (r / "abs").symlink_to("/etc/passwd")
    (tmp_path / "secret").write_text("host secret\n")
    return r


def _read(root, path):
    with pathsafe.open_in_root(root, path) as fd:
        return os.read(fd, 1000).decode()


def test_symlinks_resolve_inside_the_root(root):
    assert _read(root, "/etc/passwd") == "root:x:0:0\n"
    assert _read(root, "/abs") == "root:x:0:0\n"  # /etc/passwd of the container, not the host's
    assert _read(root, "/escape/etc/passwd") == "root:x:0:0\n"
    assert _read(root, "/up/etc/passwd") == "root:x:0:0\n"
    assert _read(root, "/../../etc/passwd") == "root:x:0:0\n"
    assert pathsafe.host_path(root, "/escape/../../secret") == root / "secret"
    with pytest.raises(NotFound):
        _read(root, "/up/secret")  # the host's secret is out of reach


def test_missing_parent_is_not_found(root):
    with pytest.raises(NotFound):
        pathsafe.resolve(root, "/nope/file")


def test_stat_reports_links_without_following(root):
    st = pathsafe.stat_in_root(root, "/abs")
    assert st["linkTarget"] == "/etc/passwd" and st["name"] == "abs"
    assert pathsafe.stat_in_root(root, "/etc")["mode"] & (1 << 31)


def test_archive_roundtrip(root, tmp_path):
    buf = io.BytesIO()
    pathsafe.archive(root, "/etc", buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        names = t.getnames()
    assert names == ["etc", "etc/passwd"]
    out = tmp_path / "other"
    out.mkdir()
    buf.seek(0)
    pathsafe.extract(out, "/", buf)
    assert (out / "etc" / "passwd").read_text() == "root:x:0:0\n"


def _tar(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, arg in members:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
                t.addfile(ti)
    buf.seek(0)
    return buf


def test_extract_refuses_escapes(root, tmp_path):
    with pytest.raises(Forbidden):
        pathsafe.extract(root, "/", _tar(("../../evil", "file", b"x")))
    assert not (tmp_path / "evil").exists()
    # a symlink planted by the container, then a file written "through" it
    with pytest.raises(Forbidden):
        pathsafe.extract(root, "/", _tar(("escape/tmp/evil", "file", b"x")))
    pathsafe.extract(root, "/", _tar(("link", "sym", "/"), ("dir/ok", "file", b"ok")))
    assert (root / "dir" / "ok").read_text() == "ok"
    # extracting *into* a symlinked destination stays inside the root
    pathsafe.extract(root, "/escape/etc", _tar(("x", "file", b"y")))
    assert (root / "etc" / "x").read_text() == "y"


def test_archive_stream_and_its_early_errors(root):
    data = b"".join(pathsafe.archive_stream(root, "/abs"))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        (member,) = t.getmembers()
    assert member.issym() and member.linkname == "/etc/passwd"
    with pytest.raises(NotFound):
        pathsafe.archive_stream(root, "/nope/x")

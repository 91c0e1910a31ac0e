"""Bad input: a clear error, nothing tagged, no container or mount left behind."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest

from berth.build.builder import StepFailed
from berth.build.dockerfile import ParseError
from berth.errors import InvalidArgument, NotFound
from berth.storage import mounting


def assert_not_tagged(env, tag: str) -> None:
    with pytest.raises(NotFound):
        env.svc.resolve(tag)


def test_failed_run(env, ctx: Path) -> None:
    err, out = env.build_fails(
        ctx, "FROM busybox\nRUN echo partial > /p && exit 7\nRUN echo never\n", tags=["fail:1"]
    )
    assert isinstance(err, StepFailed)
    assert err.code == 7
    assert (
        str(err)
        == "The command '/bin/sh -c echo partial > /p && exit 7' returned a non-zero code: 7"
    )
    assert "echo never" not in out
    assert_not_tagged(env, "fail:1")
    env.assert_clean()


def test_exec_form_of_a_missing_binary(env, ctx: Path) -> None:
    err, _ = env.build_fails(ctx, 'FROM busybox\nRUN ["/no/such/binary"]\n', tags=["fail:2"])
    assert isinstance(err, StepFailed)
    assert "The command '/no/such/binary' returned a non-zero code" in str(err)
    assert_not_tagged(env, "fail:2")
    env.assert_clean()


@pytest.mark.parametrize(
    ("dockerfile", "kind", "message"),
    [
        (
            "FROM busybox\nCOPY ../outside /x\n",
            InvalidArgument,
            "forbidden path outside the build context: ../outside",
        ),
        (
            "FROM busybox\nCOPY missing.txt /x\n",
            NotFound,
            "file not found in build context or excluded by .dockerignore: stat missing.txt",
        ),
        ("FROM busybox\nCOPY excluded.txt /x\n", NotFound, "excluded by .dockerignore"),
        (
            "FROM busybox\nCOPY escape-link /x\n",
            InvalidArgument,
            "forbidden path outside the build context",
        ),
        ("FROM busybox\nCOPY *.none /x/\n", NotFound, "no source files were specified"),
        (
            "FROM busybox\nCOPY a.txt b.txt /notadir\n",
            InvalidArgument,
            "the destination must be a directory and end with a /",
        ),
        (
            "FROM busybox\nCOPY socketdir /x\n",
            InvalidArgument,
            "not a regular file, directory or symlink",
        ),
        ("FROM nosuchimage:1\n", NotFound, "nosuchimage"),
        ("FROM ${UNSET}\n", InvalidArgument, "base name (${UNSET}) should not be blank"),
        ("FROM busybox\nSTOPSIGNAL SIGNOPE\n", InvalidArgument, "Invalid signal: SIGNOPE"),
        ("FROM busybox\nEXPOSE 80/bogus\n", InvalidArgument, "invalid proto: bogus"),
        (
            "FROM busybox AS a\nCOPY --from=later /x /y\nFROM busybox AS later\nFROM a\n",
            InvalidArgument,
            "earlier stage",
        ),
        (
            "FROM busybox\nADD http://127.0.0.1:1/file.txt /x\n",
            InvalidArgument,
            "ADD failed: cannot download http://127.0.0.1:1/file.txt",
        ),
        (
            "FROM busybox\nCOPY --chown=nobody-here a.txt /x\n",
            InvalidArgument,
            "unable to find user nobody-here",
        ),
    ],
)
def test_bad_input(env, ctx: Path, dockerfile: str, kind: type, message: str) -> None:
    (ctx / "a.txt").write_text("a")
    (ctx / "b.txt").write_text("b")
    (ctx / "excluded.txt").write_text("x")
    (ctx / ".dockerignore").write_text("excluded.txt\n")
    (ctx / "escape-link").symlink_to("/etc/passwd")
    (ctx / "socketdir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ctx / "socketdir" / "s.sock"))
    try:
        err, _ = env.build_fails(ctx, dockerfile, tags=["bad:1"])
    finally:
        sock.close()
    assert isinstance(err, kind), err
    assert message in str(err)
    assert_not_tagged(env, "bad:1")
    env.assert_clean()


def test_parse_errors_come_before_any_work(env, ctx: Path) -> None:
    (ctx / "Dockerfile.dev").write_text("FROM busybox\nRUN true\nBOGUS x\n")
    with pytest.raises(ParseError) as info:
        env.engine.prepare_dir(ctx, "Dockerfile.dev")
    assert "Dockerfile.dev line 3: unknown instruction: BOGUS" in str(info.value)
    with pytest.raises(NotFound, match="Cannot locate specified Dockerfile: nope"):
        env.engine.prepare_dir(ctx, "nope")


def test_add_url(env, ctx: Path) -> None:
    body = b"served over http\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/served.txt"
        env.build(ctx, f"FROM busybox\nADD {url} /downloads/\n", tags=["url:1"])
    finally:
        server.shutdown()
        server.server_close()
    with env.tree("url:1") as root:
        f = root / "downloads" / "served.txt"
        assert f.read_bytes() == body
        assert oct(f.stat().st_mode & 0o777) == oct(0o600)
        assert int(f.stat().st_mtime) == 1445412480


UNREADABLE_PROBE = """
import os, sys
from pathlib import Path
from berth.build.context import Context
from berth.errors import BerthError
os.setgid(65534)
os.setuid(65534)
ctx = Context(Path(sys.argv[1]))
for src in ("secret.txt", "dir"):
    try:
        sources = ctx.select(src)
        ctx.digest(sources)
        print("NO ERROR", src)
    except BerthError as exc:
        print(type(exc).__name__, exc)
"""


def test_unreadable_context_files_are_a_clear_error() -> None:
    """Reading the context as a user who cannot read a file: a clear error naming it."""
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="berth-unreadable-"))  # traversable by nobody
    try:
        _probe_unreadable(top)
    finally:
        shutil.rmtree(top)


def _probe_unreadable(tmp_path: Path) -> None:
    import subprocess
    import sys

    ctx = tmp_path / "ctx"
    (ctx / "dir").mkdir(parents=True)
    (ctx / "secret.txt").write_text("s")
    (ctx / "dir" / "inner.txt").write_text("i")
    for p in (ctx / "secret.txt", ctx / "dir" / "inner.txt"):
        p.chmod(0o000)
    for p in (tmp_path, ctx, ctx / "dir"):
        p.chmod(0o755)
    res = subprocess.run(
        [sys.executable, "-c", UNREADABLE_PROBE, str(ctx)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines == [
        "InvalidArgument cannot read secret.txt in the build context: permission denied",
        "InvalidArgument cannot read dir/inner.txt in the build context: permission denied",
    ]


def test_recover_removes_what_a_crashed_build_left(env) -> None:
    """A daemon killed mid-build leaves a mounted step container and a view; the
    engine's recover (run at daemon start) unmounts and deletes both."""
    state = env.root / "build"
    step = state / "containers" / "build-crashed" / "rootfs"
    view = state / "views" / "bview-crashed"
    env.svc.prepare_container_rootfs("build-crashed", env.busybox, step)
    env.svc.prepare_container_rootfs("bview-crashed", env.busybox, view)
    assert mounting.is_mounted(step) and mounting.is_mounted(view)
    env.engine.recover()
    assert mounting.mounts_under(state) == []
    names = {i.name for i in env.svc.snapshotter.walk()}
    assert "container-build-crashed" not in names and "container-bview-crashed" not in names
    assert not step.exists()

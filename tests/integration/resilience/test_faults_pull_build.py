"""Faults: berthd killed (kill -9) in the middle of a pull and of a build.

After the restart nothing of the interrupted operation may be visible or left
on the host: no image record, no blob nobody references, no ingest or
temporary file, no mount, no build container process or cgroup; and the same
operation then succeeds. The crash point is on cue, not on a timer: the pull's
top layer is held back by a proxy until the test has killed the daemon; the
build's RUN step blocks until the test has seen its process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from berth.distribution.testing import (
    DroppingProxy,
    Registry,
    layer_tar,
    make_oci_layout,
    start_berth_registry,
    stop,
)

from .conftest import CGROUP_ROOT, assert_clean, cmdline, poll


class _Gate(threading.Event):
    """The proxy's hold: `reached` is set once the held request has arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.reached.set()
        return super().wait(timeout)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    reg = start_berth_registry(tmp_path / "registry")
    try:
        yield reg
    finally:
        stop(reg.proc)


def _blobs(engine) -> set[str]:
    d = engine.data_root / "content" / "blobs" / "sha256"
    return {e.name for e in d.iterdir()} if d.is_dir() else set()


def _files(d: Path) -> list[str]:
    return sorted(str(p) for p in d.rglob("*")) if d.is_dir() else []


def _image_ids(engine) -> set[str]:
    status, docs = engine.request("GET", "/images/json?all=1")
    assert status == 200, docs
    return {d["Id"] for d in docs}


def _tags(engine) -> set[str]:
    status, docs = engine.request("GET", "/images/json?all=1")
    assert status == 200, docs
    return {t for d in docs for t in d.get("RepoTags") or []}


def test_daemon_killed_during_pull(engine, registry: Registry, tmp_path: Path):
    layout = make_oci_layout(
        tmp_path / "layout",
        [layer_tar({}, busybox=True), layer_tar({"mid": "m" * 4096}), layer_tar({"top": "t"})],
    )
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
         f"oci:{layout.path}:latest", f"docker://{registry.host}/crash/pull:1"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    top = layout.layer_digests[2]
    gate = _Gate()
    proxy = DroppingProxy(
        registry.host, cut_after=1 << 40, drops=0, hold_until=(top.encode(), gate)
    )
    ref = f"{proxy.host}/crash/pull:1"
    blobs0, images0, mounts0 = _blobs(engine), _image_ids(engine), engine.mounts()
    ours = {d[7:] for d in (layout.manifest_digest, layout.config_digest, *layout.layer_digests)}
    assert not ours & blobs0
    try:
        pull = subprocess.Popen(
            engine.cli_argv("pull", ref), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert gate.reached.wait(60), "the pull never asked for the held layer"
            engine.kill9()  # the top layer's download is in flight
        finally:
            gate.set()
            pull.communicate(timeout=60)
        assert pull.returncode != 0
        engine.start()
        assert _image_ids(engine) == images0
        assert ref not in _tags(engine)
        assert engine.request("GET", f"/images/{quote(ref, safe='')}/json")[0] == 404
        # the content store holds exactly what the images it had before reference
        assert _blobs(engine) == blobs0
        assert _files(engine.data_root / "content" / "ingest") == []
        assert _files(engine.data_root / "storage" / "tmp") == []
        assert engine.mounts() == mounts0
        # and the same pull now goes through
        res = engine.cli("pull", ref)
        assert "Downloaded newer image" in res.stdout, res.stdout
        status, doc = engine.request("GET", f"/images/{quote(ref, safe='')}/json")
        assert status == 200 and doc["Id"] == layout.config_digest, doc
        assert ours <= _blobs(engine)
    finally:
        gate.set()
        proxy.close()
        if not engine.running():
            engine.start()
        engine.request("DELETE", f"/images/{quote(ref, safe='')}?force=1")
    assert _blobs(engine) == blobs0


def _procs_with(token: bytes) -> list[int]:
    me = os.getpid()
    return [
        int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me and token in cmdline(p)
    ]


def _build_cgroups() -> list[str]:
    found = []
    for ctrl in CGROUP_ROOT.iterdir():
        for parent in (ctrl / "berth-build", ctrl / "unified" / "berth-build"):
            if parent.is_dir():
                found += [str(c) for c in parent.iterdir() if c.is_dir()]
    return found


def test_daemon_killed_during_build(engine, tmp_path: Path):
    token = f"gate-{uuid.uuid4().hex[:12]}"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "ARG GATE=closed\n"
        f'RUN echo {token} > /made; if [ "$GATE" != open ]; then sleep 3600; fi; echo passed\n'
    )
    tag = f"crash/build:{uuid.uuid4().hex[:12]}"  # the token only in the RUN step
    build_dir = engine.data_root / "build"
    images0, tags0 = _image_ids(engine), _tags(engine)
    mounts0, cgroups0 = engine.mounts(), set(_build_cgroups())
    build = subprocess.Popen(
        engine.cli_argv("build", "--network", "none", "-t", tag, str(ctx)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    ids: set[str] = set()
    try:
        assert poll(lambda: _procs_with(token.encode()), 60), "the RUN step never started"
        containers = build_dir / "containers"
        ids = {e.name for e in containers.iterdir()} if containers.is_dir() else set()
        assert ids, "no build container on disk while its RUN step runs"
        assert set(_build_cgroups()) - cgroups0
        engine.kill9()
    finally:
        if engine.running():  # failed before the crash: end the RUN step, so the build ends
            for pid in _procs_with(token.encode()):
                os.kill(pid, signal.SIGKILL)
        build.communicate(timeout=60)
    try:
        assert build.returncode != 0
        engine.start()
        assert _tags(engine) == tags0
        # the steps done before the crash may stay as untagged cache images (as Docker's)
        status, docs = engine.request("GET", "/images/json?all=1")
        assert status == 200, docs
        new = [d for d in docs if d["Id"] not in images0]
        assert all(not d.get("RepoTags") for d in new), new
        # the build container's process, cgroup, mounts and state are gone
        assert poll(lambda: not _procs_with(token.encode()), 15), _procs_with(token.encode())
        assert set(_build_cgroups()) == cgroups0
        assert engine.mounts() == mounts0
        assert_clean(engine, ids)
        for sub in ("containers", "views", "tmp"):
            assert _files(build_dir / sub) == [], sub
        runtime_state = [str(p) for p in (build_dir / "runtime").glob("*") if p.name in ids]
        assert runtime_state == []
        # and the build now goes through
        try:
            engine.cli(
                "build", "--network", "none", "--build-arg", "GATE=open", "-t", tag, str(ctx)
            )
            assert tag in _tags(engine)
        finally:
            engine.request("DELETE", f"/images/{quote(tag, safe='')}?force=1")
    finally:  # a failed check must not leave the RUN step running
        for pid in _procs_with(token.encode()):
            os.kill(pid, signal.SIGKILL)

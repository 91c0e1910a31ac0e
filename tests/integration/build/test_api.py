"""`POST /build` and `POST /commit` through berthd, driven by the real docker CLI
(`DOCKER_BUILDKIT=0`, the classic builder protocol)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.storage import mounting
from tests.support.poll import poll

from .engines import DOCKER, RUNTIME, Daemon, private_berthd


@pytest.fixture(scope="module")
def berthd() -> Iterator[Daemon]:
    """A private berthd (shared harness) with runc; docker() output as bytes. After the
    module no mount under its roots (the build state's included) may remain."""
    if not os.path.exists(DOCKER):
        pytest.skip("the docker CLI is not installed")
    with private_berthd("bdbuild-", runtime=RUNTIME, text_output=False) as d:
        yield d


def test_docker_build_tags_args_labels_iidfile(berthd: Daemon, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "msg.txt").write_text("hello from the context\n")
    (ctx / "secret.key").write_text("never sent\n")
    (ctx / ".dockerignore").write_text("*.key\n")
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nARG WHO=nobody\nCOPY . /ctx/\nRUN echo $WHO > /who\nCMD ["cat", "/who"]\n'
    )
    iid = tmp_path / "iid"
    res = berthd.docker(
        "build", "-t", "api:1", "-t", "api:latest", "--build-arg", "WHO=docker",
        "--label", "k=v", "--iidfile", str(iid), str(ctx),
    )  # fmt: skip
    out = res.stdout.decode()
    assert "Step 1/6 : FROM busybox" in out
    assert "Successfully tagged api:1" in out and "Successfully tagged api:latest" in out
    info = berthd.inspect_image("api:1")
    assert iid.read_text().strip() == info["Id"]
    assert info["Config"]["Labels"] == {"k": "v"}
    assert info["Config"]["Cmd"] == ["cat", "/who"]
    run = berthd.docker("run", "--rm", "api:1")
    assert run.stdout.decode() == "docker\n"
    listing = berthd.docker("run", "--rm", "api:1", "ls", "/ctx").stdout.decode().split()
    assert "msg.txt" in listing and "secret.key" not in listing
    cached = berthd.docker("build", "-q", "--build-arg", "WHO=docker", "--label", "k=v", str(ctx))
    assert cached.stdout.decode().strip() == info["Id"]


def test_dockerfile_on_stdin_and_tarball_context(berthd: Daemon, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f.txt").write_text("f\n")
    berthd.docker(
        "build", "-t", "stdin:1", "-f", "-", str(ctx), input="FROM busybox\nCOPY f.txt /\n"
    )
    assert berthd.docker("run", "--rm", "stdin:1", "cat", "/f.txt").stdout == b"f\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"FROM busybox\nRUN echo tar > /t\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    berthd.docker("build", "-t", "tar:1", "-", input=buf.getvalue())
    assert berthd.docker("run", "--rm", "tar:1", "cat", "/t").stdout == b"tar\n"


def test_failed_build_exit_code_and_nothing_tagged(berthd: Daemon, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo failing; exit 5\n")
    res = berthd.docker("build", "-t", "failed:1", str(ctx), check=False)
    assert res.returncode == 5
    assert "The command '/bin/sh -c echo failing; exit 5' returned a non-zero code: 5" in (
        res.stderr.decode() + res.stdout.decode()
    )
    assert berthd.docker("image", "inspect", "failed:1", check=False).returncode != 0
    assert mounting.mounts_under(berthd.root / "data" / "build") == []
    assert list((berthd.root / "data" / "build" / "containers").iterdir()) == []

    (ctx / "Dockerfile").write_text("FROM busybox\nNOPE x\n")
    res = berthd.docker("build", str(ctx), check=False)
    assert res.returncode == 1
    assert (
        "dockerfile parse error on Dockerfile line 2: unknown instruction: NOPE"
        in res.stderr.decode()
    )


def test_stream_protocol(berthd: Daemon) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"FROM busybox\nENV X=1\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    status, raw = berthd.request(
        "POST", "/v1.43/build?t=proto:1&nocache=1", buf.getvalue(), decode=False
    )
    assert status == 200
    msgs = [json.loads(line) for line in raw.decode().splitlines()]
    assert msgs[0] == {"stream": "Step 1/2 : FROM busybox\n"}
    aux = [m["aux"]["ID"] for m in msgs if "aux" in m]
    assert len(aux) == 1 and aux[0].startswith("sha256:")
    assert msgs[-1] == {"stream": "Successfully tagged proto:1\n"}
    status, _ = berthd.request("POST", "/build?remote=https://example.com/x.git", b"")
    assert status == 501


def test_commit(berthd: Daemon) -> None:
    cid = (
        berthd.docker("run", "-d", "busybox", "sh", "-c", "echo made > /made; sleep 60")
        .stdout.decode()
        .strip()
    )
    try:
        # the file appears once the process ran
        poll(lambda: berthd.docker("exec", cid, "cat", "/made", check=False).returncode == 0, 10)
        new = berthd.docker(
            "commit", "-m", "a message", "-a", "An Author", "-c", "ENV COMMITTED=yes",
            "-c", 'CMD ["cat", "/made"]', cid, "committed:1",
        ).stdout.decode().strip()  # fmt: skip
        info = berthd.inspect_image("committed:1")
        assert info["Id"] == new
        assert info["Author"] == "An Author"
        assert info["Comment"] == "a message"
        assert "COMMITTED=yes" in info["Config"]["Env"]
        assert berthd.docker("run", "--rm", "committed:1").stdout == b"made\n"
        state = json.loads(berthd.docker("inspect", cid).stdout)[0]["State"]
        assert state["Running"] and not state["Paused"]
    finally:
        berthd.docker("rm", "-f", cid, check=False)


def test_from_pulls_missing_images_and_pull_flag(berthd: Daemon, tmp_path: Path) -> None:
    from berth.distribution.testing import start_berth_registry, stop

    reg = start_berth_registry(tmp_path / "registry")
    try:
        ref = f"{reg.host}/base:1"
        berthd.docker("tag", "busybox:latest", ref)
        berthd.docker("push", ref)
        berthd.docker("rmi", ref)
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM {ref}\nRUN echo pulled > /p\n")
        out = berthd.docker("build", "-t", "pulled:1", str(ctx)).stdout.decode()
        assert berthd.inspect_image(ref)["Id"]  # the base arrived through the registry
        assert "Step 2/2 : RUN echo pulled > /p" in out
        out = berthd.docker("build", "--pull", "-t", "pulled:1", str(ctx)).stdout.decode()
        assert "Using cache" in out  # same base digest: the cache still applies
    finally:
        stop(reg.proc)

"""Differential: the same Dockerfiles built by a private dockerd (classic builder)
and by berthd give the same config and the same file tree (`export` listings:
paths, types, modes, owners, sizes). Skipped with the reason when dockerd
cannot run here."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .engines import RUNTIME, Daemon, private_berthd, private_dockerd

pytestmark = pytest.mark.docker

CONFIG_KEYS = (
    "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Labels",
    "Volumes", "StopSignal", "Healthcheck", "Shell", "OnBuild",
)  # fmt: skip

# Paths each engine sets up for a container, not part of the image.
RUNTIME_PATHS = {
    ".dockerenv",
    "etc/mtab",
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev",
    "proc",
    "sys",
}

DOCKERFILES = {
    "config": (
        "FROM busybox\n"
        'ENV A=1 B="two words"\n'
        "ENV C ${A}-x\n"
        'LABEL org.example.name="demo" version=${A}\n'
        "EXPOSE 80 443/udp\n"
        "VOLUME /data\n"
        "WORKDIR /srv/app\n"
        "USER daemon\n"
        "STOPSIGNAL SIGINT\n"
        'HEALTHCHECK --interval=5s --retries=2 CMD ["true"]\n'
        'SHELL ["/bin/sh", "-ec"]\n'
        "ENTRYPOINT echo\n"
        "CMD hello\n"
        "ONBUILD RUN echo child\n"
    ),
    "files": (
        "FROM busybox\n"
        "COPY a.txt /single\n"
        "COPY *.txt /glob/\n"
        "COPY --chown=1000:100 b.txt /owned/\n"
        "COPY dir /copied\n"
        "ADD pkg.tar /extracted/\n"
        "WORKDIR /work\n"
        "RUN echo made > made.txt && mkdir -p /deep/er && chmod 700 /deep && rm /bin/vi\n"
        "COPY a.txt rel.txt\n"
    ),
    "args": (
        "ARG BASE=busybox\n"
        "FROM ${BASE}\n"
        "ARG WHO=world\n"
        "ENV GREETING=hello-${WHO}\n"
        "RUN echo $GREETING $WHO > /g.txt\n"
        "EXPOSE 8000-8002 53/udp\n"
        'LABEL a=b c="d e"\n'
        "USER daemon\n"
        "WORKDIR /home/d\n"
        "COPY --chown=daemon:daemon a.txt .\n"
        "RUN touch /tmp/made-by-daemon\n"
    ),
    "existing": (
        "FROM busybox\n"
        "COPY dir /etc/\n"
        "COPY a.txt /tmp\n"
        "COPY dir/sub /usr/\n"
        "WORKDIR /usr\n"
        "ADD pkg.tar /\n"
        'COPY ["b.txt", "/spaced dir/"]\n'
        "COPY b.txt /newdir/deeper/file\n"
        "RUN rm -r /etc/sub && mkdir /etc/sub2\n"
        "WORKDIR /tmp/w\n"
        "COPY a.txt /var/../opt/x\n"
        "COPY dir/link /linkcopy\n"
        "RUN ln -s /etc /etclink\n"
        "COPY a.txt /etclink/through-link.txt\n"
    ),
    "quoting": (
        "FROM busybox\n"
        'ENV X="a \\"q\\" b" Y=a\\ b Z=\'single $X\' PORT=8080\n'
        "ENV W=${X:-unset}-${NOPE:-dflt}-${Y:+alt}\n"
        'LABEL multi.line="one \\\n  two" \\\n  second=2\n'
        "EXPOSE $PORT\n"
        'VOLUME ["/v1", "/v 2"]\n'
        "HEALTHCHECK NONE\n"
        "STOPSIGNAL 9\n"
        "USER 1000:1000\n"
        "CMD echo $X\n"
    ),
    "multistage": (
        "FROM busybox AS builder\n"
        "RUN mkdir /out && echo built > /out/artifact\n"
        "FROM busybox\n"
        "COPY --from=builder /out /app\n"
        'CMD ["cat", "/app/artifact"]\n'
    ),
}


def _context(root: Path) -> Path:
    ctx = root / "ctx"
    (ctx / "dir" / "sub").mkdir(parents=True)
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("bee\n")
    os.chmod(ctx / "b.txt", 0o640)
    (ctx / "dir" / "sub" / "deep.txt").write_text("deep\n")
    (ctx / "dir" / "link").symlink_to("sub/deep.txt")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"archived\n"
        info = tarfile.TarInfo("pkg/in.txt")
        info.size = len(data)
        info.mode = 0o604
        tf.addfile(info, io.BytesIO(data))
    (ctx / "pkg.tar").write_bytes(buf.getvalue())
    return ctx


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Daemon, Daemon]]:
    """berthd and a private dockerd (shared harness; skipped with the reason when
    dockerd cannot run), both holding berth's busybox; docker() output as bytes."""
    with (
        private_dockerd("bdk-diff-", text_output=False) as dockerd,
        private_berthd("bd-diff-", runtime=RUNTIME, text_output=False) as berthd,
    ):
        dockerd.docker("load", input=berthd.docker("save", "busybox:latest").stdout)
        yield berthd, dockerd


def _listing(d: Daemon, image: str) -> dict[str, tuple]:
    cid = d.docker("create", image, "true").stdout.decode().strip()
    try:
        data = d.docker("export", cid).stdout
    finally:
        d.docker("rm", cid, check=False)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            name = m.name.rstrip("/").removeprefix("./")
            if not name or name.split("/")[0] in RUNTIME_PATHS or name in RUNTIME_PATHS:
                continue
            size = m.size if m.isreg() else 0
            out[name] = (
                m.type,
                m.mode & 0o7777,
                m.uid,
                m.gid,
                size,
                m.linkname if m.issym() else "",
            )
    return out


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_same_config_and_tree(engines: tuple[Daemon, Daemon], tmp_path: Path, name: str) -> None:
    berthd, dockerd = engines
    ctx = _context(tmp_path)
    (ctx / "Dockerfile").write_text(DOCKERFILES[name])
    tag = f"diff-{name}:1"
    for d in (berthd, dockerd):
        d.docker("build", "--network", "none", "-t", tag, str(ctx))
    ours, theirs = berthd.inspect_image(tag), dockerd.inspect_image(tag)
    for key in CONFIG_KEYS:
        assert (ours["Config"].get(key) or None) == (theirs["Config"].get(key) or None), key
    assert ours["Author"] == theirs["Author"]
    a, b = _listing(berthd, tag), _listing(dockerd, tag)
    assert "bin/busybox" in a and len(a) > 100  # the listings are real
    if name == "files":
        assert a["owned/b.txt"][1:5] == (0o640, 1000, 100, 4)
        assert "work/made.txt" in a and "bin/vi" not in a
    only_ours = {k: a[k] for k in a.keys() - b.keys()}
    only_theirs = {k: b[k] for k in b.keys() - a.keys()}
    assert (only_ours, only_theirs) == ({}, {})
    different = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert different == {}


def test_onbuild_child_same_as_docker(engines: tuple[Daemon, Daemon], tmp_path: Path) -> None:
    berthd, dockerd = engines
    ctx = _context(tmp_path)
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nONBUILD COPY a.txt /from-trigger.txt\nONBUILD ENV TRIGGERED=1\n"
    )
    for d in (berthd, dockerd):
        d.docker("build", "--network", "none", "-t", "diff-parent:1", str(ctx))
    (ctx / "Dockerfile").write_text('FROM diff-parent:1\nCMD ["true"]\n')
    for d in (berthd, dockerd):
        d.docker("build", "--network", "none", "-t", "diff-child:1", str(ctx))
    ours, theirs = berthd.inspect_image("diff-child:1"), dockerd.inspect_image("diff-child:1")
    for key in CONFIG_KEYS:
        assert (ours["Config"].get(key) or None) == (theirs["Config"].get(key) or None), key
    a, b = _listing(berthd, "diff-child:1"), _listing(dockerd, "diff-child:1")
    assert a["from-trigger.txt"] == b["from-trigger.txt"]
    assert a == b


def test_commit_same_as_docker(engines: tuple[Daemon, Daemon]) -> None:
    """`commit -c` of a container that changed files gives the same config and tree."""
    berthd, dockerd = engines
    for d in (berthd, dockerd):
        d.docker(
            "run", "--network", "none", "--name", "to-commit", "busybox",
            "sh", "-c", "mkdir -p /data && echo v > /data/v && rm /bin/vi && chmod 700 /root",
        )  # fmt: skip
        d.docker(
            "commit", "-c", "ENV COMMITTED=1", "-c", 'CMD ["cat", "/data/v"]',
            "-c", "EXPOSE 8080", "-c", "WORKDIR /data", "to-commit", "diff-committed:1",
        )  # fmt: skip
        d.docker("rm", "to-commit")
    ours, theirs = (
        berthd.inspect_image("diff-committed:1"),
        dockerd.inspect_image("diff-committed:1"),
    )
    for key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "ExposedPorts", "User", "Labels"):
        assert (ours["Config"].get(key) or None) == (theirs["Config"].get(key) or None), key
    a, b = _listing(berthd, "diff-committed:1"), _listing(dockerd, "diff-committed:1")
    assert "data/v" in a and "bin/vi" not in a
    assert a == b


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM busybox\nRUN echo out; exit 4\n",
        "FROM busybox\nCOPY missing.txt /x\n",
        "FROM busybox\nCOPY ../outside /x\n",
        "FROM busybox\nCOPY a.txt b.txt /notadir\n",
    ],
)
def test_same_errors_as_docker(
    engines: tuple[Daemon, Daemon], tmp_path: Path, dockerfile: str
) -> None:
    ctx = _context(tmp_path)
    (ctx / "Dockerfile").write_text(dockerfile)
    results = [d.docker("build", "--network", "none", str(ctx), check=False) for d in engines]
    ours, theirs = ((r.returncode, r.stderr.decode().strip().splitlines()[-1]) for r in results)
    assert ours == theirs

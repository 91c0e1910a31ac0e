"""Stage planning and the build context's rules (no root needed)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from berth.build.context import Context
from berth.build.dockerignore import Matcher
from berth.build.engine import _context_filter, _tar_stream
from berth.build.instructions import parse
from berth.build.plan import make_plan
from berth.errors import InvalidArgument, NotFound

DF = parse(
    "FROM busybox AS a\nRUN a\n"
    "FROM busybox AS b\nRUN b\n"
    "FROM a AS c\nCOPY --from=b /x /y\n"
    "FROM busybox AS d\nRUN --mount=type=bind,from=a,target=/m true\n"
)


def test_plan_takes_the_target_and_what_it_needs() -> None:
    plan = make_plan(DF)
    assert [s.name for s in plan.stages] == ["a", "d"]
    assert plan.deps == {0: set(), 3: {0}}
    assert plan.step_numbers == {0: [1, 2], 3: [3, 4]}
    assert plan.total == 4
    plan = make_plan(DF, "c", labels=True)
    assert [s.name for s in plan.stages] == ["a", "b", "c"]
    assert plan.deps[2] == {0, 1}
    assert plan.step_numbers[2] == [5, 6, 7]  # the label step comes last
    with pytest.raises(InvalidArgument, match="failed to reach build target x"):
        make_plan(DF, "x")


def test_context_selection(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f.txt").write_text("f")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.md").write_text("b")
    (tmp_path / "skip.txt").write_text("s")
    ctx = Context(tmp_path, Matcher.from_text("skip.txt\n"))
    assert [s.rel for s in ctx.select("*.txt")] == ["a.txt"]
    assert [s.rel for s in ctx.select("d/*/f.txt")] == ["d/e/f.txt"]
    assert [s.rel for s in ctx.select("./d/../a.txt")] == ["a.txt"]
    assert [rel for rel, _ in ctx.walk(ctx.select("d")[0])] == ["e", "e/f.txt"]
    with pytest.raises(InvalidArgument, match="outside the build context"):
        ctx.select("../x")
    with pytest.raises(NotFound):
        ctx.select("skip.txt")
    first = ctx.digest(ctx.select("d"))
    (tmp_path / "d" / "e" / "f.txt").write_text("changed")
    assert ctx.digest(ctx.select("d")) != first


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for info in entries:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def _extract(raw: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=_tar_stream(io.BytesIO(raw)), mode="r|") as tf:
        tf.extractall(dest, filter=_context_filter)


def test_context_tar_cannot_write_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tarfile.TarInfo("evil")
    link.type = tarfile.SYMTYPE
    link.linkname = str(outside)
    payload = tarfile.TarInfo("evil/planted")
    raw = _tar([link, payload], {"evil/planted": b"x"})
    dest = tmp_path / "ctx"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="through a symlink"):
        _extract(raw, dest)
    assert os.listdir(outside) == []


def test_context_tar_refuses_parent_paths(tmp_path: Path) -> None:
    raw = _tar([tarfile.TarInfo("../escape")], {"../escape": b"x"})
    dest = tmp_path / "ctx"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="invalid path"):
        _extract(raw, dest)
    assert not (tmp_path / "escape").exists()


def test_truncated_tar_from_the_docker_cli_is_accepted(tmp_path: Path) -> None:
    raw = _tar([tarfile.TarInfo("Dockerfile")], {"Dockerfile": b"FROM busybox\n"})
    cut = 512 + len(b"FROM busybox\n")  # header + data, no padding, no end blocks
    dest = tmp_path / "ctx"
    dest.mkdir()
    _extract(raw[:cut], dest)
    assert (dest / "Dockerfile").read_bytes() == b"FROM busybox\n"


def test_plan_expands_meta_args_in_stage_references() -> None:
    df = parse("ARG SRC=one\nFROM busybox AS one\nFROM busybox AS two\nFROM ${SRC}\n")
    assert [s.index for s in make_plan(df, meta={"SRC": "one"}).stages] == [0, 2]
    assert [s.index for s in make_plan(df, meta={"SRC": "two"}).stages] == [1, 2]

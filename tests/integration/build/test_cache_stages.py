"""The layer cache, multi-stage builds with --target, parallel stages, RUN --mount."""

from __future__ import annotations

import os
import re
from pathlib import Path

from berth.storage import mounting

DOCKERFILE = (
    "FROM busybox\n"
    "ENV A=1\n"
    "COPY app.txt /app/\n"
    "RUN cat /app/app.txt > /app/copy.txt\n"
    "WORKDIR /app\n"
    'CMD ["cat", "copy.txt"]\n'
)


def test_cached_rebuild_creates_nothing(env, ctx: Path) -> None:
    (ctx / "app.txt").write_text("v1\n")
    first, out1 = env.build(ctx, DOCKERFILE, tags=["cached:1"])
    assert "Using cache" not in out1
    count = env.image_count()
    blobs = sorted(os.listdir(env.root / "content" / "blobs" / "sha256"))
    second, out2 = env.build(ctx, DOCKERFILE, tags=["cached:1"])
    assert second.image_id == first.image_id
    assert out2.count(" ---> Using cache") == 5
    assert "Running in" not in out2
    assert env.image_count() == count
    assert sorted(os.listdir(env.root / "content" / "blobs" / "sha256")) == blobs

    # a changed source invalidates its COPY and every step after it
    (ctx / "app.txt").write_text("v2\n")
    third, out3 = env.build(ctx, DOCKERFILE, tags=["cached:2"])
    assert third.image_id != first.image_id
    assert out3.count(" ---> Using cache") == 1  # ENV only
    with env.tree("cached:2") as root:
        assert (root / "app" / "copy.txt").read_text() == "v2\n"
    # a mode change alone invalidates too
    os.chmod(ctx / "app.txt", 0o600)
    _, out4 = env.build(ctx, DOCKERFILE, tags=["cached:3"])
    assert out4.count(" ---> Using cache") == 1


def test_no_cache_rebuilds_every_step(env, ctx: Path) -> None:
    (ctx / "app.txt").write_text("nc\n")
    first, _ = env.build(ctx, DOCKERFILE, tags=["nc:1"])
    second, out = env.build(ctx, DOCKERFILE, tags=["nc:1"], no_cache=True)
    assert "Using cache" not in out
    assert second.image_id != first.image_id
    assert env.svc.resolve("nc:1").id == second.image_id


MULTI = (
    "FROM busybox AS one\n"
    "RUN echo one > /one.txt\n"
    "FROM busybox AS two\n"
    "RUN echo two > /two.txt\n"
    "FROM busybox AS unused\n"
    "RUN echo unused > /unused.txt\n"
    "FROM busybox\n"
    "COPY --from=one /one.txt /got/\n"
    "COPY --from=1 /two.txt /got/\n"
    "COPY --from=busybox /bin/busybox /got/busybox-from-image\n"
    "RUN --mount=type=bind,from=one,source=/one.txt,target=/mnt/one.txt cat /mnt/one.txt > /got/bound.txt\n"
)


def test_multistage_skips_unneeded_stages(env, ctx: Path) -> None:
    result, out = env.build(ctx, MULTI, tags=["multi:1"])
    assert "unused" not in out  # never built
    steps = re.findall(r"^Step (\d+)/(\d+) : ", out, re.M)
    assert [int(n) for n, _ in steps] == list(range(1, 10))
    assert {t for _, t in steps} == {"9"}
    # stage output is released in stage order even when built in parallel
    assert out.index("echo one") < out.index("echo two") < out.index("COPY --from=one")
    with env.tree("multi:1") as root:
        assert sorted(os.listdir(root / "got")) == [
            "bound.txt",
            "busybox-from-image",
            "one.txt",
            "two.txt",
        ]
        assert (root / "got" / "bound.txt").read_text() == "one\n"
    assert result.image_id != env.busybox


def test_target_builds_only_what_it_needs(env, ctx: Path) -> None:
    result, out = env.build(ctx, MULTI, tags=["target:1"], target="two")
    assert "Step 1/2 : FROM busybox AS two" in out
    assert "echo one" not in out
    with env.tree("target:1") as root:
        assert (root / "two.txt").exists()
        assert not (root / "got").exists()
    err, _ = env.build_fails(ctx, MULTI, target="nope")
    assert "failed to reach build target nope" in str(err)
    assert result.image_id


def test_run_mounts(env, ctx: Path) -> None:
    (ctx / "input.txt").write_text("from the context\n")
    dockerfile = (
        "FROM busybox\n"
        "RUN --mount=type=cache,target=/cache,id=counter "
        "echo x >> /cache/n && wc -l < /cache/n > /count.txt\n"
        "RUN --mount=type=tmpfs,target=/scratch "
        "echo tmp > /scratch/f && grep -q tmpfs /proc/mounts && cat /scratch/f > /tmpfs.txt\n"
        "RUN --mount=type=bind,source=input.txt,target=/in.txt cp /in.txt /bound.txt\n"
        "RUN --mount=type=bind,target=/ctx ls /ctx > /ctx-listing.txt\n"
        "RUN --mount=type=bind,source=input.txt,target=/in.txt,rw "
        "echo changed > /in.txt && cat /in.txt > /rw.txt\n"
    )
    env.build(ctx, dockerfile, tags=["mounts:1"], no_cache=True)
    env.build(ctx, dockerfile, tags=["mounts:2"], no_cache=True)
    with env.tree("mounts:1") as root:
        first = int((root / "count.txt").read_text())
    with env.tree("mounts:2") as root:
        assert int((root / "count.txt").read_text()) == first + 1  # the cache persisted
        assert (root / "tmpfs.txt").read_text() == "tmp\n"
        assert not (root / "scratch" / "f").exists()
        assert (root / "bound.txt").read_text() == "from the context\n"
        assert "input.txt" in (root / "ctx-listing.txt").read_text()
        assert not (root / "cache" / "n").exists()
        assert (root / "rw.txt").read_text() == "changed\n"
    assert (ctx / "input.txt").read_text() == "from the context\n"  # rw writes discarded
    env.assert_clean()
    assert mounting.mounts_under(env.root / "build") == []


def test_independent_stages_run_at_the_same_time(env, ctx: Path) -> None:
    """Each stage waits (with a deadline) for a file the other one writes into a shared
    cache mount: the build only succeeds when both stages run concurrently."""
    wait = (
        "RUN --mount=type=cache,id=rendezvous,target=/s "
        "touch /s/{me} && i=0 && while [ ! -e /s/{other} ]; do "
        "sleep 0.05; i=$((i+1)); if [ $i -gt 600 ]; then exit 9; fi; done\n"
    )
    dockerfile = (
        "FROM busybox AS left\n"
        + wait.format(me="left", other="right")
        + "FROM busybox AS right\n"
        + wait.format(me="right", other="left")
        + "FROM busybox\nCOPY --from=left /bin/busybox /l\nCOPY --from=right /bin/busybox /r\n"
    )
    cache = env.root / "build" / "cache-mounts"
    for d in cache.glob("*"):
        for f in d.glob("*"):
            f.unlink()
    result, out = env.build(ctx, dockerfile, no_cache=True)
    assert result.image_id
    assert out.index("AS left") < out.index("AS right")

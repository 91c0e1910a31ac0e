"""A build engine on a temporary data root (overlay snapshots, busybox base image,
Debian's runc as the OCI runtime), shared by the module's tests.

Every fixture checks on teardown that no mount is left under its data root and
that the build state directory holds no container bundle.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.build.builder import BuildOptions, BuildResult
from berth.build.engine import BuildEngine
from berth.db import open_db
from berth.image.service import ImageService
from berth.storage import mounting

RUNTIME = shutil.which(os.environ.get("BERTH_BUILD_TEST_RUNTIME", "runc"))


@dataclass
class Env:
    root: Path
    svc: ImageService
    engine: BuildEngine
    busybox: str

    def build(
        self, ctx: Path, dockerfile: str | None = None, **opts: object
    ) -> tuple[BuildResult, str]:
        if dockerfile is not None:
            (ctx / "Dockerfile").write_text(dockerfile)
        lines: list[str] = []
        result = self.engine.build_dir(ctx, BuildOptions(**opts), lines.append)  # type: ignore[arg-type]
        return result, "".join(lines)

    def build_fails(self, ctx: Path, dockerfile: str, **opts: object) -> tuple[Exception, str]:
        lines: list[str] = []
        (ctx / "Dockerfile").write_text(dockerfile)
        try:
            self.engine.build_dir(ctx, BuildOptions(**opts), lines.append)  # type: ignore[arg-type]
        except Exception as exc:
            return exc, "".join(lines)
        raise AssertionError("the build succeeded:\n" + "".join(lines))

    def config(self, ref: str) -> dict:
        return self.svc.inspect(ref)["Config"]

    @contextlib.contextmanager
    def tree(self, ref: str) -> Iterator[Path]:
        """The image's files, mounted for the duration."""
        image = self.svc.resolve(ref)
        cid = "test-" + secrets.token_hex(8)
        target = self.root / "trees" / cid
        self.svc.prepare_container_rootfs(cid, image.id, target)
        try:
            yield target
        finally:
            self.svc.remove_container_rootfs(cid, target)
            shutil.rmtree(target, ignore_errors=True)

    def image_count(self) -> int:
        return len(self.svc.list_images(all=True))

    def assert_clean(self) -> None:
        state = self.root / "build"
        assert mounting.mounts_under(state) == []
        left = list((state / "containers").iterdir()) if (state / "containers").exists() else []
        assert left == []
        tmp = state / "tmp"
        if tmp.exists():
            assert [p.name for p in tmp.iterdir() if not p.name.startswith("context-")] == []
        runtime_state = state / "runtime"
        if runtime_state.exists():
            assert [p.name for p in runtime_state.iterdir()] == []


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    if os.geteuid() != 0:
        pytest.skip("needs root (overlay mounts, containers)")
    if RUNTIME is None:
        pytest.skip("no OCI runtime (runc) installed")
    root = tmp_path_factory.mktemp("buildroot")
    conn = open_db(root / "berth.db")
    svc = ImageService(root, conn, driver="overlay2")
    busybox = svc.make_busybox_image().id
    engine = BuildEngine(svc, conn, state_dir=root / "build", runtime=RUNTIME)
    e = Env(root, svc, engine, busybox)
    try:
        yield e
    finally:
        leftover = mounting.mounts_under(root)
        for point in leftover:
            mounting.unmount(Path(point))
        conn.close()
        assert leftover == [], f"mounts left behind: {leftover}"


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    d.mkdir()
    return d

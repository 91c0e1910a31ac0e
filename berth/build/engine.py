"""The build package's entry point: a context (directory or tar) and options in,
an image out. The daemon and tests call this; nothing else in berth/build
needs to be known from outside.

    engine = BuildEngine(image_service, conn, state_dir=root / "build", runtime="runc")
    job = engine.prepare_tar(stream, "Dockerfile")   # parse now: 400 before any output
    result = engine.run(job, BuildOptions(tags=["app:1"]), out=print_text)
    job.close()

`prepare_*` extracts and parses (ParseError and a missing Dockerfile fail
here); `run` builds, streaming Docker's classic output through `out`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from berth.build.builder import Builder, BuildOptions, BuildResult, Output, Puller
from berth.build.cache import BuildCache
from berth.build.context import Context
from berth.build.dockerignore import Matcher
from berth.build.instructions import Dockerfile, parse
from berth.build.runner import BUILD_CONTAINER_PREFIX, VIEW_PREFIX, StepRunner
from berth.errors import InvalidArgument, NotFound
from berth.tarextract import extract_all, renamed


@dataclass(slots=True)
class BuildJob:
    context: Context
    dockerfile: Dockerfile
    temp_dir: Path | None = None

    def close(self) -> None:
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None


class BuildEngine:
    def __init__(
        self,
        images: Any,
        conn: sqlite3.Connection,
        *,
        state_dir: Path,
        runtime: str,
        pull: Puller | None = None,
    ) -> None:
        self.images = images  # berth.image.service.ImageService
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.cache = BuildCache(conn, self._exists)
        self.runner = StepRunner(images, runtime, self.state_dir)
        self.pull = pull

    def _exists(self, image_id: str) -> bool:
        try:
            self.images.resolve(image_id)
        except NotFound:
            return False
        return True

    # -- contexts ---------------------------------------------------------------

    def prepare_dir(
        self, root: Path, dockerfile: str = "Dockerfile", dockerfile_text: str | None = None
    ) -> BuildJob:
        """A directory context; `dockerfile_text` overrides the file (`-f -`)."""
        root = Path(root)
        if not root.is_dir():
            raise NotFound(f"unable to prepare context: path {str(root)!r} not found")
        ignore = _ignore(root)
        if dockerfile_text is None:
            path = Path(dockerfile) if os.path.isabs(dockerfile) else root / dockerfile
            try:
                dockerfile_text = path.read_text()
            except FileNotFoundError:
                raise NotFound(f"Cannot locate specified Dockerfile: {dockerfile}") from None
            except OSError as exc:
                raise InvalidArgument(f"cannot read {dockerfile}: {exc.strerror}") from None
        df = parse(dockerfile_text, os.path.basename(dockerfile) or "Dockerfile")
        return BuildJob(Context(root, ignore), df)

    def prepare_tar(self, stream: BinaryIO, dockerfile: str = "Dockerfile") -> BuildJob:
        """A context tar (plain or compressed), as `POST /build` receives it."""
        tmp = Path(tempfile.mkdtemp(dir=self._tmp(), prefix="context-"))
        try:
            root = tmp / "context"
            root.mkdir()
            try:
                with tarfile.open(fileobj=_tar_stream(stream), mode="r|") as tf:
                    extract_all(tf, root, filter=_context_filter)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise InvalidArgument(
                    f"the build context is not a valid tar archive: {exc}"
                ) from None
            name = dockerfile or "Dockerfile"
            rel = os.path.normpath(name).lstrip("/")
            if rel.startswith(".."):
                raise InvalidArgument(f"the Dockerfile ({name}) must be within the build context")
            job = self.prepare_dir(root, rel)
            job.temp_dir = tmp
            return job
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _tmp(self) -> Path:
        path = self.state_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- building ---------------------------------------------------------------

    def run(
        self,
        job: BuildJob,
        opts: BuildOptions,
        out: Output,
        on_built: Callable[[str], None] | None = None,
    ) -> BuildResult:
        builder = Builder(
            self.images, self.cache, self.runner, state_dir=self.state_dir, pull=self.pull
        )
        return builder.build(job.dockerfile, job.context, opts, out, on_built)

    def build_dir(
        self, root: Path, opts: BuildOptions, out: Output, dockerfile: str = "Dockerfile"
    ) -> BuildResult:
        job = self.prepare_dir(root, dockerfile)
        try:
            return self.run(job, opts, out)
        finally:
            job.close()

    def prune(self) -> tuple[list[str], int]:
        """Drop every cache entry and RUN --mount cache directory: (ids, bytes freed)."""
        from berth.storage.usage import dir_usage

        deleted = self.cache.clear()
        mounts = self.state_dir / "cache-mounts"
        freed = 0
        if mounts.is_dir():
            for child in sorted(mounts.iterdir()):
                freed += dir_usage(child).size
                shutil.rmtree(child, ignore_errors=True)
                deleted.append(child.name)
        return deleted, freed

    def recover(self) -> None:
        """After a crash: unmount and delete what half-done builds left behind."""
        from berth.storage import mounting

        # a RUN step's container runs in its own session and outlives a killed
        # daemon: end it (its process and cgroup) through the runtime first
        runtime_root = self.runner.runtime_root
        for entry in sorted(runtime_root.glob(BUILD_CONTAINER_PREFIX + "*")):
            subprocess.run(
                [self.runner.runtime, "--root", str(runtime_root), "delete", "--force", entry.name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
        for point in mounting.mounts_under(self.state_dir):
            mounting.unmount(Path(point))
        for sub in ("containers", "views", "tmp"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        snapshotter = getattr(self.images, "snapshotter", None)
        if snapshotter is None:
            return
        for info in list(snapshotter.walk()):
            cid = info.name.removeprefix("container-")
            if cid != info.name and cid.startswith((BUILD_CONTAINER_PREFIX, VIEW_PREFIX)):
                self.images.remove_container_rootfs(cid, None)


class _Padded:
    """A tar stream that ends in zeros: the docker CLI's context tar with `-f -`
    stops right after the last file's bytes (no block padding, no end blocks),
    which Go's reader accepts and Python's does not."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.tail = 1024 + 512

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size and size > 0 else 1 << 16)
        if data or self.tail <= 0:
            return data
        n = min(self.tail, size if size and size > 0 else self.tail)
        self.tail -= n
        return b"\0" * n


class _Peek:
    def __init__(self, raw: Any, head: bytes) -> None:
        self.raw = raw
        self.head = head

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self.head = self.head + self.raw.read(), b""
            return data
        out, self.head = self.head[:size], self.head[size:]
        if len(out) < size:
            out += self.raw.read(size - len(out))
        return out


def _tar_stream(stream: Any) -> _Padded:
    """The context as a plain tar stream (gzip, bzip2 and xz are decompressed)."""
    import bz2
    import gzip
    import lzma

    head = b""
    while len(head) < 6:
        chunk = stream.read(6 - len(head))
        if not chunk:
            break
        head += chunk
    raw: Any = _Peek(stream, head)
    if head.startswith(b"\x1f\x8b"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    elif head.startswith(b"BZh"):
        raw = bz2.BZ2File(raw, "rb")
    elif head.startswith(b"\xfd7zXZ\x00"):
        raw = lzma.LZMAFile(raw, "rb")  # noqa: SIM115 (closed with the request)
    return _Padded(raw)


def _ignore(root: Path) -> Matcher:
    try:
        return Matcher.from_text((root / ".dockerignore").read_text())
    except FileNotFoundError:
        return Matcher([])


def _context_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """Docker's context tars: keep modes and symlinks as they are; refuse escapes."""
    name = os.path.normpath(member.name.lstrip("/"))
    if name == ".." or name.startswith("../"):
        raise InvalidArgument(f"invalid path in the build context: {member.name}")
    if member.isdev():
        return None
    real_dest = os.path.realpath(dest)
    parent = os.path.realpath(os.path.join(dest, os.path.dirname(name)))
    if parent != real_dest and not parent.startswith(real_dest + os.sep):
        raise InvalidArgument(
            f"invalid path in the build context (through a symlink): {member.name}"
        )
    if member.islnk():
        target = os.path.normpath(member.linkname.lstrip("/"))
        if target.startswith(".."):
            raise InvalidArgument(f"invalid hard link in the build context: {member.name}")
    return renamed(member, name)

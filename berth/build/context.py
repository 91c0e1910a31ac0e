"""The build context: the directory COPY and ADD read from, and its safety rules.

A source names a path *inside* the context: `..` that climbs out of it, or a
symlink that leads out of it, is refused ("forbidden path outside the build
context"), and a path the `.dockerignore` excludes does not exist for the
build. Wildcards use Go's `filepath.Match` rules on each path component.
`digest` gives COPY/ADD's cache key its content part: paths, modes, sizes,
link targets and file contents of everything a source selects.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from berth.build.dockerignore import Matcher
from berth.errors import InvalidArgument, NotFound


@dataclass(frozen=True, slots=True)
class Source:
    """One selected source: its path on disk and its name relative to the context."""

    path: Path
    rel: str
    is_dir: bool


def has_wildcards(text: str) -> bool:
    return any(ch in text for ch in "*?[")


class Context:
    """A directory on disk (already extracted when it came as a tar)."""

    def __init__(self, root: Path, ignore: Matcher | None = None) -> None:
        self.root = Path(root)
        self.real_root = os.path.realpath(self.root)
        self.ignore = ignore or Matcher([])

    def _clean(self, src: str) -> str:
        rel = posixpath.normpath("/" + src.replace("\\", "/")).lstrip("/")
        joined = posixpath.normpath(src) if not src.startswith("/") else src
        if joined == ".." or joined.startswith("../"):
            raise InvalidArgument(f"forbidden path outside the build context: {src} ()")
        return "" if rel == "." else rel

    def _inside(self, rel: str, src: str) -> Path:
        path = self.root / rel if rel else self.root
        real = os.path.realpath(path)
        if real != self.real_root and not real.startswith(self.real_root + os.sep):
            raise InvalidArgument(f"forbidden path outside the build context: {src} ({real})")
        return Path(real)

    def select(self, src: str) -> list[Source]:
        """The files/directories one COPY source names (NotFound when none)."""
        rel = self._clean(src)
        if has_wildcards(rel):
            found = list(self._glob(rel))
            if not found:
                raise NotFound(f"no source files were specified (pattern {src!r} matched nothing)")
            return found
        if rel and self.ignore.excluded(rel):
            raise NotFound(_missing(src))
        path = self._inside(rel, src)
        if not os.path.lexists(path):
            raise NotFound(_missing(src))
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            _check_readable(path, src)
        return [Source(path, rel, stat.S_ISDIR(st.st_mode))]

    def _glob(self, pattern: str) -> Iterator[Source]:
        parts = pattern.split("/")

        def walk(base: str, i: int) -> Iterator[Source]:
            if i == len(parts):
                if base and not self.ignore.excluded(base):
                    path = self._inside(base, base)
                    yield Source(path, base, path.is_dir())
                return
            part = parts[i]
            dir_path = self.root / base if base else self.root
            if not has_wildcards(part):
                child = f"{base}/{part}" if base else part
                if os.path.lexists(self.root / child):
                    yield from walk(child, i + 1)
                return
            try:
                names = sorted(os.listdir(dir_path))
            except NotADirectoryError:
                return
            for name in names:
                if fnmatch.fnmatchcase(name, part):
                    yield from walk(f"{base}/{name}" if base else name, i + 1)

        yield from walk("", 0)

    def walk(self, source: Source) -> Iterator[tuple[str, Path]]:
        """(path relative to the source dir, path on disk) below a directory, sorted,
        skipping what .dockerignore excludes."""

        def rec(rel_in: str, disk: Path) -> Iterator[tuple[str, Path]]:
            for name in sorted(os.listdir(disk)):
                rel = f"{rel_in}/{name}" if rel_in else name
                ctx_rel = f"{source.rel}/{rel}" if source.rel else rel
                child = disk / name
                is_dir = child.is_dir() and not child.is_symlink()
                if self.ignore.excluded(ctx_rel):
                    if is_dir and self.ignore.may_include_below(ctx_rel):
                        yield from rec(rel, child)
                    continue
                if not is_dir and not child.is_symlink():
                    _check_readable(child, ctx_rel)
                yield rel, child
                if is_dir:
                    yield from rec(rel, child)

        yield from rec("", source.path)

    def digest(self, sources: list[Source]) -> str:
        """A hash of everything the sources select (names, modes, contents)."""
        h = hashlib.sha256()
        for src in sources:
            entries = [("", src.path)] if not src.is_dir else [("", src.path), *self.walk(src)]
            for rel, path in entries:
                st = os.lstat(path)
                h.update(f"{src.rel}\0{rel}\0{st.st_mode:o}\0{st.st_size}\0".encode())
                if stat.S_ISLNK(st.st_mode):
                    h.update(os.readlink(path).encode())
                elif stat.S_ISREG(st.st_mode) or (not src.is_dir and rel == ""):
                    h.update(file_digest(path).encode())
        return h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _check_readable(path: Path, name: str) -> None:
    if not os.access(path, os.R_OK):
        raise InvalidArgument(f"cannot read {name} in the build context: permission denied")


def _missing(src: str) -> str:
    return (
        "file not found in build context or excluded by .dockerignore: "
        f"stat {src}: file does not exist"
    )

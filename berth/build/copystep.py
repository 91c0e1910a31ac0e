"""COPY and ADD steps: what they read (context, another stage or image, URLs,
heredocs), their cache key, and the layer they write (see berth.build.copier
for Docker's placement rules)."""

from __future__ import annotations

import contextlib
import email.utils
import os
import posixpath
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from berth.build import copier, words
from berth.build.cache import step_key
from berth.build.context import Context, Source, file_digest, has_wildcards
from berth.build.instructions import Copy
from berth.build.runner import resolve_in_root
from berth.build.state import StageState, StepOutcome, dump
from berth.build.views import ImageViews
from berth.errors import BerthError, InvalidArgument


class CopyStep:
    """Plans COPY/ADD for one build (its context, views and stage images)."""

    def __init__(
        self,
        *,
        context: Context,
        views: ImageViews,
        escape: str,
        tmp_dir: Path,
        source_image: Callable[[StageState, str], str],
        layer_image: Callable[[str, dict[str, Any], str, list[copier.Entry]], str],
        pool: Executor,
    ) -> None:
        self.pool = pool
        self.context = context
        self.views = views
        self.escape = escape
        self.tmp_dir = tmp_dir
        self.source_image = source_image
        self.layer_image = layer_image

    def plan(
        self, state: StageState, inst: Copy, cfg: dict[str, Any], env: dict[str, str]
    ) -> StepOutcome:
        esc = self.escape
        kw = inst.keyword
        dest = words.expand(inst.dest, env, esc)
        dest_is_dir_syntax = dest.endswith("/") or dest in (".", "..")
        if not dest.startswith("/"):
            dest = posixpath.join(state.workdir, dest)
        dest = posixpath.normpath(dest) if dest != "/" else "/"
        chown = words.expand(inst.chown, env, esc) if inst.chown else ""
        chmod = copier.parse_chmod(words.expand(inst.chmod, env, esc)) if inst.chmod else None
        parent = state.image_id
        # What the step reads: heredocs, context files, another image, URLs.
        heredocs: list[tuple[str, bytes]] = []
        sources: list[Source] = []
        urls: list[str] = []
        from_image = ""
        ctx = self.context
        if inst.heredocs:
            for h in inst.heredocs:
                text = words.expand_text(h.content, env) if h.expand else h.content
                heredocs.append((h.name, text.encode()))
        else:
            if inst.from_:
                from_image = self.source_image(state, words.expand(inst.from_, env, esc))
                ctx = Context(self.views.root(from_image))
            for raw in inst.sources:
                src = raw if inst.exec_form else words.expand(raw, env, esc)
                if inst.is_add and is_url(src):
                    urls.append(src)
                    continue
                try:
                    sources.extend(ctx.select(src))
                except BerthError as exc:
                    raise type(exc)(f"{kw} failed: {exc.message}") from None
        count = len(heredocs) + len(sources) + len(urls)
        wild = any(has_wildcards(s) for s in inst.sources)
        if (len(inst.sources) > 1 or count > 1) and not dest_is_dir_syntax:
            raise InvalidArgument(
                f"When using {kw} with more than one source file, the destination must be a "
                "directory and end with a /"
            )
        fetched = [self.fetch(url) for url in urls]
        try:
            content = ctx.digest(sources) if sources else ""
        except BerthError as exc:
            raise type(exc)(f"{kw} failed: {exc.message}") from None
        digest_parts = [content, *(file_digest(p) for p, _n, _m in fetched)]
        digest_parts += [step_key(n, d.decode("utf-8", "replace")) for n, d in heredocs]
        kind = (
            "multi" if count > 1 or wild else ("dir" if sources and sources[0].is_dir else "file")
        )
        created_by = f"/bin/sh -c #(nop) {kw} {kind}:{step_key(*digest_parts)[7:]} in {dest} "
        key = step_key(kw, created_by, from_image, chown, str(chmod), dump(cfg))

        def make() -> str:
            try:
                root = self.views.acquire(parent)
                uid, gid = chown_ids(root, chown) if chown else (0, 0)
                target = resolve_in_root(root, dest)
                rel_dest = target.relative_to(root).as_posix()
                into_dir = dest_is_dir_syntax or target.is_dir() or count > 1
                entries: list[copier.Entry] = []
                made: set[str] = set()

                def ensure_parents(path: str) -> None:
                    entries.extend(copier.parent_entries(root, path, uid, gid, made))

                def place(name: str) -> str:
                    if into_dir:
                        return f"{rel_dest}/{name}".lstrip("/") if rel_dest != "." else name
                    return rel_dest

                for name, data in heredocs:
                    path = place(name)
                    ensure_parents(path)
                    mode = chmod if chmod is not None else 0o644
                    entries.append(copier.Entry(path, "data", mode, uid, gid, data=data))
                for path_on_disk, name, mtime in fetched:
                    path = place(name)
                    ensure_parents(path)
                    mode = chmod if chmod is not None else 0o600
                    entries.append(
                        copier.Entry(path, "file", mode, uid, gid, mtime, source=path_on_disk)
                    )
                for src in sources:
                    if src.is_dir:
                        base = rel_dest if rel_dest != "." else ""
                        if base:
                            ensure_parents(base + "/x")
                            if not (root / base).exists():
                                top = copier.entry_for(src.path, base, uid, gid, chmod)
                                entries.append(top)
                        for rel, disk in ctx.walk(src):
                            p = f"{base}/{rel}" if base else rel
                            entries.append(copier.entry_for(disk, p, uid, gid, chmod))
                        continue
                    path = place(posixpath.basename(src.rel) or src.path.name)
                    if inst.is_add and not from_image and copier.archive_kind(src.path):
                        base = rel_dest if rel_dest != "." else ""
                        for name in copier.archive_names(src.path):
                            ensure_parents(f"{base}/{name}" if base else name)
                        entries.append(copier.Entry(base, "archive", archive=src.path))
                        continue
                    ensure_parents(path)
                    entries.append(copier.entry_for(src.path, path, uid, gid, chmod))
                return self.layer_image(parent, cfg, created_by, entries)
            finally:
                self.views.release(parent, self.pool)
                for p, _n, _m in fetched:
                    with contextlib.suppress(OSError):
                        os.unlink(p)

        return StepOutcome(cfg, created_by, key, make)

    def fetch(self, url: str) -> tuple[Path, str, float]:
        """Download an ADD URL to a temporary file: (path, file name, mtime)."""
        name = posixpath.basename(urllib.parse.urlparse(url).path) or "index.html"
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="add-")
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=30) as resp:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                modified = resp.headers.get("Last-Modified")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            os.unlink(tmp)
            reason = getattr(exc, "reason", exc)
            raise InvalidArgument(f"ADD failed: cannot download {url}: {reason}") from None
        mtime = 0.0
        if modified:
            with contextlib.suppress(TypeError, ValueError):
                mtime = email.utils.parsedate_to_datetime(modified).timestamp()
        return Path(tmp), name, mtime


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def chown_ids(root: Path, spec: str) -> tuple[int, int]:
    """--chown=user[:group] with names from the image's files; no group: gid = uid."""
    from berth.oci.builder import resolve_user

    user, _, group = spec.partition(":")
    uid = int(user) if user.isdigit() else resolve_user(root, user, [])[0].uid
    if not group:
        return uid, uid
    gid = int(group) if group.isdigit() else resolve_user(root, f"0:{group}", [])[0].gid
    return uid, gid

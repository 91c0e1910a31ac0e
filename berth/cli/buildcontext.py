"""The build context the CLI uploads: a tar of the directory minus `.dockerignore`.

The Dockerfile travels inside the tar; when `-f` names a file outside the
context it is added under a generated name, as docker does.
"""

from __future__ import annotations

import fnmatch
import io
import os
import tarfile


def read_ignore(context: str) -> list[str]:
    path = os.path.join(context, ".dockerignore")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(
                os.path.normpath(line.lstrip("/"))
                if not line.startswith("!")
                else "!" + os.path.normpath(line[1:].lstrip("/"))
            )
    return out


def ignored(rel: str, patterns: list[str]) -> bool:
    """Last matching pattern wins; `!pat` re-includes; a pattern also covers children."""
    result = False
    for pat in patterns:
        negate = pat.startswith("!")
        p = pat[1:] if negate else pat
        parts = rel.split("/")
        hit = any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), p) for i in range(len(parts)))
        if p.startswith("**/"):
            hit = (
                hit
                or fnmatch.fnmatchcase(rel, p[3:])
                or any(fnmatch.fnmatchcase(x, p[3:]) for x in parts)
            )
        if hit:
            result = not negate
    return result


def pack(context: str, dockerfile: str | None) -> tuple[bytes, str]:
    """(tar bytes, the Dockerfile's name inside the tar)."""
    patterns = read_ignore(context)
    buf = io.BytesIO()
    name_in_tar = "Dockerfile"
    extra: tuple[str, str] | None = None
    if dockerfile:
        full = dockerfile if os.path.isabs(dockerfile) else os.path.join(os.getcwd(), dockerfile)
        ctx_abs = os.path.abspath(context)
        if not os.path.exists(full) and os.path.exists(os.path.join(context, dockerfile)):
            full = os.path.join(context, dockerfile)
        full = os.path.abspath(full)
        if full.startswith(ctx_abs + os.sep):
            name_in_tar = os.path.relpath(full, ctx_abs)
        else:
            import secrets

            name_in_tar = f".dockerfile.{secrets.token_hex(10)}"
            extra = (full, name_in_tar)
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for root, dirs, files in os.walk(context):
            rel_root = os.path.relpath(root, context)
            dirs.sort()
            for name in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                rel = name if rel_root == "." else f"{rel_root}/{name}"
                if rel not in (name_in_tar, ".dockerignore") and ignored(rel, patterns):
                    continue
                tar.add(os.path.join(root, name), arcname=rel, recursive=False)
            keep = []
            for d in dirs:
                rel = d if rel_root == "." else f"{rel_root}/{d}"
                if os.path.islink(os.path.join(root, d)):
                    continue
                if ignored(rel, patterns) and not any(p.startswith("!" + rel) for p in patterns):
                    continue
                tar.add(os.path.join(root, d), arcname=rel, recursive=False)
                keep.append(d)
            dirs[:] = keep
        if extra:
            tar.add(extra[0], arcname=extra[1])
    return buf.getvalue(), name_in_tar

"""Splitting image references the way the CLI needs (`repo:tag`, `repo@digest`)."""

from __future__ import annotations


def split_tag(ref: str) -> tuple[str, str | None]:
    """`localhost:5000/a/b:1` -> ("localhost:5000/a/b", "1"); `a@sha256:..` keeps the digest."""
    if "@" in ref:
        return ref, None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


def with_default_tag(ref: str) -> str:
    """`busybox` -> `busybox:latest` (what docker prints in "Unable to find image")."""
    repo, tag = split_tag(ref)
    if "@" in ref:
        return ref
    return f"{repo}:{tag or 'latest'}"

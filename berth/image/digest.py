"""Digests (`sha256:<64 hex>`): validating them and computing them while streaming."""

from __future__ import annotations

import hashlib
import re

from berth.errors import InvalidArgument

_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")


def validate(digest: str) -> str:
    """Return `digest` if it is a well-formed sha256 digest; InvalidArgument otherwise."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise InvalidArgument(f"invalid digest: {digest!r}")
    return digest


def is_digest(text: str) -> bool:
    return bool(_DIGEST_RE.match(text))


def hex_of(digest: str) -> str:
    """The hex part of a validated digest (safe to use as a file name)."""
    return validate(digest)[len("sha256:") :]


def of_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Digester:
    """Accumulates a sha256 over written chunks."""

    __slots__ = ("_h", "size")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    def digest(self) -> str:
        return "sha256:" + self._h.hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    out: list[str] = []
    for diff_id in diff_ids:
        validate(diff_id)
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out

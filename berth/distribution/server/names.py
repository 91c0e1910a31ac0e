"""The grammars the registry checks on its URLs: repository names, tags, digests.

They come from the OCI distribution spec; anything that does not match is
answered with NAME_INVALID, TAG_INVALID or DIGEST_INVALID before any path is
built from it, so a name can never climb out of the storage root.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"(sha256):([a-f0-9]{64})|(sha512):([a-f0-9]{128})")
UUID_RE = re.compile(r"[a-f0-9]{32}")
MAX_NAME = 255


def valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and NAME_RE.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return TAG_RE.fullmatch(tag) is not None


def valid_digest(digest: str) -> bool:
    return DIGEST_RE.fullmatch(digest) is not None


def split_digest(digest: str) -> tuple[str, str]:
    """("sha256", "<hex>") of a digest already checked by `valid_digest`."""
    algo, _, hexpart = digest.partition(":")
    return algo, hexpart

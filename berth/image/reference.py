"""Image references, normalised exactly as Docker does.

A reference names a repository and optionally a tag and/or a digest:
`busybox` is `docker.io/library/busybox` (and, when a tag is needed,
`:latest`); `host:5000/a/b:tag` keeps its registry host; `name@sha256:<64 hex>`
pins content; `name:tag@sha256:...` carries both (the digest wins when
resolving). Anything else fails with Docker's own words, "invalid reference
format", as `berth.errors.InvalidArgument`, so the API layer returns 400 with
the message the docker CLI users know.

The familiar form is the short one Docker prints (`busybox:latest`,
`user/app`, `localhost:5000/a/b`): the `docker.io/` domain and the `library/`
path prefix are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ANCHORED_TAG = re.compile(rf"^{_TAG}$")
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised reference: `domain`/`path` plus an optional tag and digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Full repository name: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository name as Docker prints it: `busybox`, `user/app`, `host:5000/a`."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX) :]
            return self.path
        return self.name

    def __str__(self) -> str:
        return _join(self.name, self.tag, self.digest)

    def familiar(self) -> str:
        """The whole reference in Docker's short form (`busybox:latest`)."""
        return _join(self.familiar_name, self.tag, self.digest)

    def with_tag(self, tag: str) -> Reference:
        if not _ANCHORED_TAG.match(tag):
            raise InvalidArgument(f"invalid tag format: {tag!r}")
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def repository(self) -> Reference:
        """The name alone, without tag or digest."""
        return Reference(self.domain, self.path)

    @property
    def is_name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def tagged_or_latest(self) -> Reference:
        """Docker's TagNameOnly: a bare name gets `:latest`; tags and digests stay."""
        if self.is_name_only:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self


def _join(name: str, tag: str | None, digest: str | None) -> str:
    out = name
    if tag:
        out += f":{tag}"
    if digest:
        out += f"@{digest}"
    return out


def _invalid(text: str, why: str = "") -> InvalidArgument:
    suffix = f": {why}" if why else ""
    return InvalidArgument(f"invalid reference format{suffix}")


def _split_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    first = name[:i]
    looks_like_host = (
        any(c in first for c in ".:") or first == "localhost" or first != first.lower()
    )
    if i == -1 or not looks_like_host:
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1 :]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse(text: str) -> Reference:
    """Docker's ParseNormalizedNamed: normalise `text` without adding a tag.

    Raises InvalidArgument("invalid reference format...") for anything Docker refuses.
    """
    if not text:
        raise _invalid(text)
    if _HEX64.match(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    match = _REFERENCE_RE.match(text)
    if match is None:
        if _REFERENCE_RE.match(text.lower()):
            raise _invalid(text, "repository name must be lowercase")
        raise _invalid(text)
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    domain, path = _split_domain(name)
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise _invalid(
            text, f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest is not None:
        algorithm, _, hexpart = digest.partition(":")
        if algorithm == "sha256" and not _HEX64.match(hexpart):
            raise _invalid(text)
    return Reference(domain, path, tag, digest)


def parse_tagged(text: str) -> Reference:
    """`parse`, then add `:latest` when neither a tag nor a digest was given."""
    return parse(text).tagged_or_latest()


def familiar(text: str) -> str:
    """Short form of a reference string, for display (`docker.io/library/x:1` -> `x:1`)."""
    return parse(text).familiar()


def is_valid_tag(tag: str) -> bool:
    return bool(_ANCHORED_TAG.match(tag))

"""`docker images --filter` and the small matchers it needs.

Filters arrive as the Engine API sends them ({"dangling": ["true"], "label":
["k=v"], ...}); every given key must hold, and several values of `label`
must all hold. `reference` is a glob on the familiar name, with the tag when
the pattern has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.timestamps import parse_ns


@dataclass(frozen=True, slots=True)
class ImageFilters:
    """`docker images --filter`: every given criterion must hold (values of one key: any)."""

    dangling: bool | None = None
    reference: tuple[str, ...] = ()
    label: tuple[str, ...] = ()
    before: str | None = None
    since: str | None = None

    @staticmethod
    def from_api(filters: Mapping[str, Iterable[str]] | None) -> ImageFilters:
        """From the Engine API's `filters` ({"dangling": ["true"], "label": [...]})."""
        filters = dict(filters or {})
        known = {"dangling", "reference", "label", "before", "since"}
        for key in filters:
            if key not in known:
                raise InvalidArgument(f"invalid filter '{key}'")
        dangling = None
        for value in filters.get("dangling", []):
            if value.lower() in ("true", "1"):
                dangling = True
            elif value.lower() in ("false", "0"):
                dangling = False
            else:
                raise InvalidArgument(f"invalid filter 'dangling={value}'")
        before = list(filters.get("before", []))
        since = list(filters.get("since", []))
        return ImageFilters(
            dangling=dangling,
            reference=tuple(filters.get("reference", [])),
            label=tuple(filters.get("label", [])),
            before=before[0] if before else None,
            since=since[0] if since else None,
        )


def unix_time(created: str) -> int:
    """An image's `created` as Unix seconds (0 when absent or unreadable)."""
    try:
        return parse_ns(created) // 1_000_000_000 if created else 0
    except ValueError:
        return 0


def label_matches(labels: Mapping[str, str], expr: str) -> bool:
    key, eq, value = expr.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def all_labels(labels: Mapping[str, str], exprs: Sequence[str]) -> bool:
    return all(label_matches(labels, e) for e in exprs)


def ref_matches(familiar_tag: str, pattern: str) -> bool:
    """Docker's reference filter: a glob on the familiar name, with or without the tag."""
    from fnmatch import fnmatchcase

    repo = familiar_tag.rsplit(":", 1)[0] if ":" in familiar_tag.split("/")[-1] else familiar_tag
    if ":" in pattern.split("/")[-1] or "@" in pattern:
        return fnmatchcase(familiar_tag, pattern)
    return fnmatchcase(repo, pattern)

"""`.dockerignore`: which context paths the build never sees.

Docker's semantics: one pattern per line, `#` lines are comments, blank
lines are ignored; patterns are cleaned (`./a/../b` is `b`, a leading `/` is
dropped) and matched against slash-separated paths relative to the context
root with Go's `filepath.Match` rules (`*` and `?` stop at `/`, `[...]`
classes, `\\` escapes) plus `**`, which matches any number of directories.
A pattern also matches everything below a directory it matches. A pattern
starting with `!` is an exception. The *last* pattern that matches a path
decides, so order matters. A directory that is excluded is still walked when
an exception could match something inside it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    exclusion: bool  # True for `!pattern`
    regex: re.Pattern[str]


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path.strip())
    cleaned = cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                    out.append("(?:.*/)?")  # `**/` : zero or more directories
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def parse(text: str) -> list[Pattern]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = _clean(line)
        if not cleaned:
            continue
        out.append(Pattern(cleaned, exclusion, _to_regex(cleaned)))
    return out


class Matcher:
    """Decides whether a context-relative path is excluded."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns = list(patterns)
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> Matcher:
        return cls(parse(text))

    def excluded(self, path: str) -> bool:
        rel = _clean(path)
        if not rel:
            return False
        parents = _parents(rel)
        result = False
        for p in self.patterns:
            hit = bool(p.regex.match(rel)) or any(p.regex.match(d) for d in parents)
            if hit:
                result = not p.exclusion
        return result

    def may_include_below(self, directory: str) -> bool:
        """True when an exception might re-include something inside an excluded dir."""
        if not self.has_exceptions:
            return False
        rel = _clean(directory)
        for p in self.patterns:
            if not p.exclusion:
                continue
            if any(ch in p.text for ch in "*?[") or p.text.startswith(rel + "/"):
                return True
        return False


def _parents(rel: str) -> list[str]:
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]

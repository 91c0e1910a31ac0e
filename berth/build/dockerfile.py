"""Dockerfile text to nodes: directives, comments, continuations, heredocs.

This is the first of two passes. It knows the *syntax* only: which lines
form one instruction, the instruction's keyword and leading `--flags`, the
rest of its text, and the bodies of its heredocs, each with the line numbers
it came from. `berth.build.instructions` then gives each node its meaning
and checks its arguments. Rules, as the Dockerfile reference states them:

- parser directives (`# syntax=...`, `# escape=\\` or `` ` ``) are only read
  before the first comment, blank line or instruction; `syntax` is accepted
  and ignored, unknown directives are plain comments;
- a line ending in the escape character (optionally followed by blanks)
  continues on the next one; comment lines and empty lines inside a
  continuation are dropped;
- `<<EOF`, `<<-EOF` (leading tabs stripped) and `<<"EOF"` (no expansion) in
  RUN, COPY and ADD take the following lines up to `EOF` as a heredoc.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from berth.errors import InvalidArgument

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_.-]+))")
_HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})


class ParseError(InvalidArgument):
    """A Dockerfile error, naming the file and the line (400 through the API)."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error on {file} line {line}: {message}")
        self.file = file
        self.line = line
        self.reason = message


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    content: str
    expand: bool  # False when the delimiter was quoted
    chomp: bool = False  # <<- : leading tabs removed


@dataclass(frozen=True, slots=True)
class Node:
    """One instruction as written: keyword upper-cased, flags not yet interpreted."""

    keyword: str
    flags: tuple[str, ...]
    args: str
    line: int
    end_line: int
    original: str
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, slots=True)
class Parsed:
    nodes: tuple[Node, ...]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)
    file: str = "Dockerfile"


def parse_text(text: str, file: str = "Dockerfile") -> Parsed:
    """Split a Dockerfile into nodes; ParseError names `file` and the line."""
    lines = text.removeprefix("\ufeff").splitlines()
    directives, first = _directives(lines, file)
    escape = directives.get("escape", "\\")
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    nodes: list[Node] = []
    i = first
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        text_line = lines[i].lstrip()
        while True:
            m = continuation.search(text_line)
            if not m:
                parts.append(text_line.rstrip())
                break
            parts.append(text_line[: m.start()])
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if i >= len(lines):
                break
            text_line = lines[i]
        joined = "".join(parts).strip()
        i += 1
        keyword, _, rest = _split_keyword(joined)
        node_line = start + 1
        heredocs: list[Heredoc] = []
        if keyword.upper() in _HEREDOC_KEYWORDS and not rest.lstrip().startswith("["):
            heredocs, i = _read_heredocs(rest, lines, i, file, node_line)
        flags, args = _split_flags(rest)
        nodes.append(
            Node(
                keyword=keyword.upper(),
                flags=tuple(flags),
                args=args,
                line=node_line,
                end_line=i,
                original=joined,
                heredocs=tuple(heredocs),
            )
        )
    return Parsed(tuple(nodes), escape, directives, file)


def _directives(lines: list[str], file: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    for n, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m or not line.strip().startswith("#"):
            return found, n
        name, value = m.group(1).lower(), m.group(2)
        if name not in ("syntax", "escape", "check"):
            return found, n  # an unknown directive is a comment and ends directives
        if name in found:
            raise ParseError(file, n + 1, f"only one {name} parser directive can be used")
        if name == "escape" and value not in ("\\", "`"):
            raise ParseError(file, n + 1, f"invalid escape token '{value}' does not match ` or \\")
        found[name] = value
    return found, len(lines)


def _split_keyword(joined: str) -> tuple[str, str, str]:
    m = re.match(r"(\S+)(\s*)(.*)$", joined, re.S)
    assert m is not None
    return m.group(1), m.group(2), m.group(3)


def _split_flags(rest: str) -> tuple[list[str], str]:
    flags: list[str] = []
    text = rest
    while True:
        m = re.match(r"(--\S+)\s*(.*)$", text, re.S)
        if not m or m.group(1) == "--":
            return flags, text
        flags.append(m.group(1))
        text = m.group(2)


def _read_heredocs(
    rest: str, lines: list[str], i: int, file: str, line: int
) -> tuple[list[Heredoc], int]:
    out: list[Heredoc] = []
    for m in _HEREDOC.finditer(rest):
        chomp = m.group(1) == "-"
        name = m.group(2) or m.group(3) or m.group(4)
        quoted = m.group(4) is None
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise ParseError(file, line, f"unterminated heredoc {name}")
            text = lines[i]
            i += 1
            if chomp:
                text = text.lstrip("\t")
            if text == name:
                break
            body.append(text + "\n")
        out.append(Heredoc(name, "".join(body), expand=not quoted, chomp=chomp))
    return out, i

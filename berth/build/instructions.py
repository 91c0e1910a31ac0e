"""Nodes to typed instructions and stages: the Dockerfile's meaning, checked.

Every argument that Docker expands with the build's variables is kept *raw*
here (`$VAR` unexpanded) and expanded by the builder at the step where it is
used, because the value of a variable depends on the ENV and ARG instructions
before it. Argument counts, flag names, JSON forms and stage names are
checked now, so that a bad Dockerfile fails before anything is built, with
the file and line in the message (`ParseError`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from berth.build import words
from berth.build.dockerfile import Heredoc, Node, Parsed, ParseError, parse_text
from berth.errors import InvalidArgument

# Build args every Dockerfile may use without declaring them (never in history).
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)

_FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "RUN": frozenset({"mount", "network", "security"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "checksum", "keep-git-dir", "link", "exclude"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}
KEYWORDS = frozenset(
    [
        "FROM",
        "RUN",
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "ARG",
        "LABEL",
        "EXPOSE",
        "COPY",
        "ADD",
        "WORKDIR",
        "USER",
        "VOLUME",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
        "MAINTAINER",
    ]
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


@dataclass(frozen=True, slots=True)
class Instruction:
    """Base: where it came from and how `Step N/M` prints it."""

    node: Node

    @property
    def keyword(self) -> str:
        return self.node.keyword

    @property
    def line(self) -> int:
        return self.node.line

    @property
    def original(self) -> str:
        return self.node.original


@dataclass(frozen=True, slots=True)
class From(Instruction):
    image: str  # raw: expanded with the meta ARGs
    stage_name: str = ""
    platform: str = ""


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One `RUN --mount=` (BuildKit's): type cache, bind or tmpfs (raw option values)."""

    type: str
    target: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run(Instruction):
    command: tuple[str, ...]  # exec form as given, or (shell text,)
    exec_form: bool
    mounts: tuple[MountSpec, ...] = ()
    network: str = ""


@dataclass(frozen=True, slots=True)
class Command(Instruction):
    """CMD or ENTRYPOINT: exec form list, or shell text to prefix with SHELL."""

    args: tuple[str, ...]
    exec_form: bool


@dataclass(frozen=True, slots=True)
class KeyValues(Instruction):
    """ENV or LABEL: raw (key, value) pairs, expanded together at dispatch."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Arg(Instruction):
    pairs: tuple[tuple[str, str | None], ...]  # (name, raw default or None)


@dataclass(frozen=True, slots=True)
class Words(Instruction):
    """EXPOSE, VOLUME (raw words; VOLUME's JSON form is already split)."""

    items: tuple[str, ...]
    expanded: bool = False  # VOLUME's JSON form: words are literal


@dataclass(frozen=True, slots=True)
class Single(Instruction):
    """WORKDIR, USER, STOPSIGNAL, MAINTAINER: one raw argument."""

    value: str


@dataclass(frozen=True, slots=True)
class Copy(Instruction):
    sources: tuple[str, ...]  # raw; heredoc names when `heredocs`
    dest: str
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    is_add: bool = False
    checksum: str = ""
    heredocs: tuple[Heredoc, ...] = ()
    exec_form: bool = False


@dataclass(frozen=True, slots=True)
class Healthcheck(Instruction):
    test: tuple[str, ...]  # ("NONE",) | ("CMD", ...) | ("CMD-SHELL", text)
    interval: str = ""
    timeout: str = ""
    start_period: str = ""
    start_interval: str = ""
    retries: int = 0


@dataclass(frozen=True, slots=True)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Onbuild(Instruction):
    expression: str  # the trigger as written ("RUN echo hi")


@dataclass(slots=True)
class Stage:
    index: int
    name: str
    base: From
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(slots=True)
class Dockerfile:
    file: str
    escape: str
    meta_args: list[Arg]
    stages: list[Stage]

    def stage(self, name_or_index: str) -> Stage | None:
        for st in self.stages:
            if st.name and st.name == name_or_index.lower():
                return st
        if name_or_index.isdigit() and int(name_or_index) < len(self.stages):
            return self.stages[int(name_or_index)]
        return None


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    """Parse and check a whole Dockerfile (ParseError names the file and line)."""
    parsed = parse_text(text, file)
    if not parsed.nodes:
        raise ParseError(file, 1, f"the Dockerfile ({file}) cannot be empty")
    meta: list[Arg] = []
    stages: list[Stage] = []
    for node in parsed.nodes:
        inst = to_instruction(node, parsed)
        if isinstance(inst, From):
            if inst.stage_name and any(s.name == inst.stage_name for s in stages):
                raise ParseError(file, node.line, f"duplicate name {inst.stage_name!r}")
            stages.append(Stage(len(stages), inst.stage_name, inst))
        elif not stages:
            if not isinstance(inst, Arg):
                raise ParseError(
                    file,
                    node.line,
                    "no build stage in current context (the first instruction must be FROM)",
                )
            meta.append(inst)
        else:
            stages[-1].instructions.append(inst)
    if not stages:
        raise ParseError(file, parsed.nodes[-1].line, "no build stage in current context (no FROM)")
    return Dockerfile(file, parsed.escape, meta, stages)


def parse_change(text: str, escape: str = "\\") -> Instruction:
    """One instruction (ONBUILD trigger, `commit -c`), line numbers relative to it."""
    parsed = parse_text(text, "instruction")
    if len(parsed.nodes) != 1:
        raise ParseError("instruction", 1, f"expected one instruction, got {text!r}")
    return to_instruction(parsed.nodes[0], Parsed(parsed.nodes, escape, {}, "instruction"))


def to_instruction(node: Node, parsed: Parsed) -> Instruction:
    """The typed instruction of one node; every error is a ParseError with its line."""
    try:
        return _to_instruction(node, parsed)
    except ParseError:
        raise
    except InvalidArgument as exc:
        raise ParseError(parsed.file, node.line, exc.message) from None


def _to_instruction(node: Node, parsed: Parsed) -> Instruction:
    file, esc = parsed.file, parsed.escape

    def fail(msg: str) -> ParseError:
        return ParseError(file, node.line, msg)

    kw = node.keyword
    if kw not in KEYWORDS:
        raise fail(f"unknown instruction: {node.original.split()[0]}")
    flags = _flags(node, fail)
    args = node.args.strip()
    if kw == "FROM":
        parts = args.split()
        if len(parts) not in (1, 3):
            raise fail("FROM requires either one or three arguments")
        name = ""
        if len(parts) == 3:
            if parts[1].lower() != "as":
                raise fail('FROM requires either one or three arguments: the second must be "AS"')
            name = parts[2].lower()
            if not _STAGE_NAME.match(name):
                raise fail(
                    f"invalid name for build stage: {parts[2]!r}, name can't start with a number or contain symbols"
                )
        return From(node, parts[0], name, flags.get("platform", ""))
    if kw == "RUN":
        if not args and not node.heredocs:
            raise fail("RUN requires at least one argument")
        mounts = tuple(_mount(v, fail) for v in flags.get_all("mount"))
        network = flags.get("network", "")
        if network not in ("", "default", "none", "host"):
            raise fail(f"unsupported network mode {network!r} (default, none, host)")
        exec_list = _json_list(args)
        if exec_list is not None:
            return Run(node, tuple(exec_list), True, mounts, network)
        return Run(node, (_run_script(args, node.heredocs),), False, mounts, network)
    if kw in ("CMD", "ENTRYPOINT"):
        exec_list = _json_list(args)
        if exec_list is not None:
            return Command(node, tuple(exec_list), True)
        return Command(node, (args,) if args else (), False)
    if kw in ("ENV", "LABEL"):
        return KeyValues(node, _pairs(kw, args, esc, fail))
    if kw == "ARG":
        if not args:
            raise fail("ARG requires at least one argument")
        out: list[tuple[str, str | None]] = []
        for word in words.split_raw(args, esc):
            name, eq, default = word.partition("=")
            if not name:
                raise fail(f"ARG names can not be blank: {word!r}")
            out.append((name, default if eq else None))
        return Arg(node, tuple(out))
    if kw == "EXPOSE":
        items = tuple(words.split_raw(args, esc))
        if not items:
            raise fail("EXPOSE requires at least one argument")
        return Words(node, items)
    if kw == "VOLUME":
        exec_list = _json_list(args)
        items = tuple(exec_list) if exec_list is not None else tuple(words.split_raw(args, esc))
        if not items or any(not i.strip() for i in items):
            raise fail(
                "VOLUME specified can not be an empty string"
                if items
                else "VOLUME requires at least one argument"
            )
        return Words(node, items, expanded=exec_list is not None)
    if kw in ("WORKDIR", "USER", "STOPSIGNAL"):
        if not args or (kw != "WORKDIR" and len(words.split_raw(args, esc)) != 1):
            raise fail(f"{kw} requires exactly one argument")
        return Single(node, args)
    if kw == "MAINTAINER":
        if not args:
            raise fail("MAINTAINER requires exactly one argument")
        return Single(node, args)
    if kw in ("COPY", "ADD"):
        return _copy(node, kw, args, flags, fail, esc)
    if kw == "HEALTHCHECK":
        return _healthcheck(node, args, flags, fail)
    if kw == "SHELL":
        exec_list = _json_list(args)
        if exec_list is None:
            raise fail("SHELL requires the arguments to be in JSON form")
        if not exec_list:
            raise fail("SHELL requires at least one argument")
        return Shell(node, tuple(exec_list))
    # ONBUILD
    if not args:
        raise fail("ONBUILD requires at least one argument")
    inner = args.split(None, 1)[0].upper()
    if inner == "ONBUILD":
        raise fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if inner in ("FROM", "MAINTAINER"):
        raise fail(f"{inner} isn't allowed as an ONBUILD trigger")
    if inner not in KEYWORDS:
        raise fail(f"unknown instruction in ONBUILD: {inner}")
    return Onbuild(node, args)


class _Flags:
    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}

    def get(self, name: str, default: str = "") -> str:
        v = self.values.get(name)
        return v[-1] if v else default

    def get_all(self, name: str) -> list[str]:
        return self.values.get(name, [])


def _flags(node: Node, fail) -> _Flags:  # type: ignore[no-untyped-def]
    out = _Flags()
    allowed = _FLAGS.get(node.keyword, frozenset())
    for flag in node.flags:
        name, eq, value = flag[2:].partition("=")
        if name not in allowed:
            raise fail(f"unknown flag: {name}")
        if not eq and name not in ("link", "keep-git-dir", "parents"):
            raise fail(f"missing a value on flag: {name}")
        out.values.setdefault(name, []).append(value if eq else "true")
    return out


def _json_list(args: str) -> list[str] | None:
    """The exec (JSON) form when `args` is a JSON array of strings, else None (shell form)."""
    text = args.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _run_script(args: str, heredocs: tuple[Heredoc, ...]) -> str:
    """The shell text a RUN executes. `RUN <<EOF` alone runs the heredoc's body; with
    more words, the shell gets the line and the heredoc text and handles `<<` itself."""
    if not heredocs:
        return args
    if len(heredocs) == 1 and re.fullmatch(r"<<-?\s*[\"']?[A-Za-z0-9_.-]+[\"']?", args.strip()):
        return heredocs[0].content
    body = "".join(f"{h.content}{h.name}\n" for h in heredocs)
    return f"{args}\n{body}".rstrip("\n")


def _mount(spec: str, fail) -> MountSpec:  # type: ignore[no-untyped-def]
    opts: dict[str, str] = {}
    for part in spec.split(","):
        key, eq, value = part.partition("=")
        opts[key.strip().lower()] = value if eq else "true"
    kind = opts.pop("type", "bind")
    if kind not in ("bind", "cache", "tmpfs"):
        raise fail(f"unsupported mount type {kind!r} (bind, cache, tmpfs)")
    target = opts.pop("target", "") or opts.pop("dst", "") or opts.pop("destination", "")
    if not target:
        raise fail(f"mount type={kind} requires a target")
    return MountSpec(kind, target, opts)


def _pairs(kw: str, args: str, esc: str, fail) -> tuple[tuple[str, str], ...]:  # type: ignore[no-untyped-def]
    if not args:
        raise fail(f"{kw} requires at least one argument")
    raw = words.split_raw(args, esc)
    if "=" not in raw[0]:
        # legacy form: `ENV key value with spaces`
        parts = args.split(None, 1)
        if len(parts) < 2:
            raise fail(f"{kw} must have two arguments")
        return ((parts[0], parts[1]),)
    out = []
    for word in raw:
        key, eq, value = word.partition("=")
        if not eq:
            raise fail(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        if not key:
            raise fail(f"{kw} names can not be blank")
        out.append((key, value))
    return tuple(out)


def _copy(node: Node, kw: str, args: str, flags: _Flags, fail, esc: str) -> Copy:  # type: ignore[no-untyped-def]
    exec_list = _json_list(args)
    items = exec_list if exec_list is not None else words.split_raw(args, esc)
    if node.heredocs:
        if len(items) < 2:
            raise fail(f"{kw} requires at least two arguments")
        names = tuple(h.name for h in node.heredocs)
        return Copy(
            node,
            names,
            items[-1],
            chown=flags.get("chown"),
            chmod=flags.get("chmod"),
            is_add=kw == "ADD",
            heredocs=node.heredocs,
        )
    if len(items) < 2:
        raise fail(
            f"{kw} requires at least two arguments, but only one was provided. "
            "Destination could not be determined."
        )
    if kw == "ADD" and flags.get("from"):
        raise fail("unknown flag: from")
    return Copy(
        node,
        tuple(items[:-1]),
        items[-1],
        from_=flags.get("from"),
        chown=flags.get("chown"),
        chmod=flags.get("chmod"),
        is_add=kw == "ADD",
        checksum=flags.get("checksum"),
        exec_form=exec_list is not None,
    )


def _healthcheck(node: Node, args: str, flags: _Flags, fail) -> Healthcheck:  # type: ignore[no-untyped-def]
    parts = args.split(None, 1)
    if not parts:
        raise fail("HEALTHCHECK requires at least one argument")
    kind = parts[0].upper()
    if kind == "NONE":
        if len(parts) > 1 or flags.values:
            raise fail("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(node, ("NONE",))
    if kind != "CMD":
        raise fail(f'Unknown type "{parts[0]}" in HEALTHCHECK (try CMD)')
    if len(parts) < 2:
        raise fail("Missing command after HEALTHCHECK CMD")
    exec_list = _json_list(parts[1])
    test = ("CMD", *exec_list) if exec_list is not None else ("CMD-SHELL", parts[1])
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = flags.get(name)
        if value:
            try:
                parse_duration(value)
            except ValueError:
                raise fail(f"invalid --{name} {value!r}: not a duration") from None
    retries = 0
    if flags.get("retries"):
        try:
            retries = int(flags.get("retries"))
        except ValueError:
            raise fail(f"invalid --retries {flags.get('retries')!r}") from None
        if retries < 0:
            raise fail("--retries cannot be negative")
    return Healthcheck(
        node,
        test,
        flags.get("interval"),
        flags.get("timeout"),
        flags.get("start-period"),
        flags.get("start-interval"),
        retries,
    )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def parse_duration(text: str) -> int:
    """Go's duration syntax ("30s", "1m30s", "500ms") in nanoseconds."""
    pos, total = 0, 0
    if text == "0":
        return 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise ValueError(text)
        total += int(float(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if not text:
        raise ValueError(text)
    return total

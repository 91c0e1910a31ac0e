"""A small flag parser with docker's (pflag's) syntax and error wording.

Why not argparse: docker's syntax differs in ways users rely on (flags stop at
the image in `run IMAGE CMD -x`, `--rm=false`, `-itd`, repeated `-e`), and its
messages and exit codes are part of the compatibility (`unknown flag: --foo`,
status 125). A command declares its flags as `Flag`s; `parse()` returns the
values by destination name plus the positional arguments.
"""

from __future__ import annotations

BOOL, STR, INT, LIST = "bool", "string", "int", "list"


class UsageError(Exception):
    """A command line that does not parse; the CLI prints it with usage, exit 125."""

    def __init__(self, message: str, status: int = 125) -> None:
        super().__init__(message)
        self.status = status


class HelpRequested(Exception):
    """`-h`/`--help` was given: print the command's help and exit 0."""


class Flag:
    """One option: its names (`-e, --env`), kind, default and one-line help."""

    __slots__ = ("aliases", "default", "dest", "help", "kind", "long", "short")

    def __init__(self, names: str, kind: str = BOOL, default: object = None, help: str = ""):
        self.short = ""
        self.long = ""
        self.aliases: list[str] = []  # further long names (`--net` for `--network`)
        for name in (n.strip() for n in names.split(",")):
            if name.startswith("--"):
                if self.long:
                    self.aliases.append(name[2:])
                else:
                    self.long = name[2:]
            elif name.startswith("-"):
                self.short = name[1:]
        self.kind = kind
        self.dest = (self.long or self.short).replace("-", "_")
        if default is None:
            default = {BOOL: False, LIST: [], STR: None, INT: None}[kind]
        self.default = default
        self.help = help


class Spec:
    """A command's flags, usage line, description, and argument count rules."""

    def __init__(
        self,
        usage: str,
        description: str,
        flags: list[Flag],
        min_args: int = 0,
        max_args: int | None = None,
        interspersed: bool = True,
    ) -> None:
        self.usage = usage
        self.description = description
        self.flags = flags
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed
        self.by_long = {f.long: f for f in flags if f.long}
        self.by_long.update({a: f for f in flags for a in f.aliases})
        self.by_short = {f.short: f for f in flags if f.short}

    def help_text(self, prog: str = "berth") -> str:
        lines = [f"\nUsage:  {prog} {self.usage}\n", self.description, ""]
        if self.flags:
            lines.append("Options:")
            rows = []
            for f in self.flags:
                names = (f"-{f.short}, " if f.short else "    ") + f"--{f.long}"
                if f.kind != BOOL:
                    names += " " + ("list" if f.kind == LIST else f.kind)
                rows.append((names, f.help))
            width = max(len(r[0]) for r in rows)
            lines += [f"  {n.ljust(width)}   {h}" for n, h in rows]
        return "\n".join(lines) + "\n"


def _convert(flag: Flag, value: str, shown: str) -> object:
    if flag.kind == INT:
        try:
            return int(value)
        except ValueError:
            raise UsageError(
                f'invalid argument "{value}" for "{shown}" flag: strconv.ParseInt: parsing "{value}": invalid syntax'
            ) from None
    return value


def _bool_value(value: str, shown: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise UsageError(
        f'invalid argument "{value}" for "{shown}" flag: strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def parse(spec: Spec, argv: list[str]) -> tuple[dict[str, object], list[str]]:
    """Parse argv against spec: (values by dest, positional args)."""
    values: dict[str, object] = {
        f.dest: list(f.default) if f.kind == LIST else f.default  # type: ignore[call-overload]
        for f in spec.flags
    }
    values["_set"] = set()
    args: list[str] = []

    def store(flag: Flag, value: object) -> None:
        values["_set"].add(flag.dest)  # type: ignore[union-attr]
        if flag.kind == LIST:
            values[flag.dest].append(value)  # type: ignore[union-attr]
        else:
            values[flag.dest] = value

    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            args += argv[i:]
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            if name == "help":
                raise HelpRequested
            flag = spec.by_long.get(name)
            if flag is None:
                raise UsageError(f"unknown flag: --{name}")
            if flag.kind == BOOL:
                store(flag, _bool_value(value, f"--{name}") if eq else True)
                continue
            if not eq:
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: --{name}")
                value = argv[i]
                i += 1
            store(flag, _convert(flag, value, f"--{name}"))
            continue
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                ch = arg[j]
                j += 1
                if ch == "h" and "h" not in spec.by_short:
                    raise HelpRequested
                flag = spec.by_short.get(ch)
                if flag is None:
                    raise UsageError(f"unknown shorthand flag: '{ch}' in {arg}")
                if flag.kind == BOOL:
                    if j < len(arg) and arg[j] == "=":
                        store(flag, _bool_value(arg[j + 1 :], f"-{ch}"))
                        break
                    store(flag, True)
                    continue
                value = arg[j:]
                if value.startswith("="):
                    value = value[1:]
                elif not value:
                    if i >= len(argv):
                        raise UsageError(f"flag needs an argument: '{ch}' in -{ch}")
                    value = argv[i]
                    i += 1
                store(flag, _convert(flag, value, f"-{ch}"))
                break
            continue
        args.append(arg)
        if not spec.interspersed:
            args += argv[i:]
            break
    return values, args


def check_args(spec: Spec, name: str, args: list[str]) -> None:
    """Docker's argument-count errors (exit status 1, like docker's CLI)."""
    if len(args) < spec.min_args:
        need = "argument" if spec.min_args == 1 else "arguments"
        if spec.max_args == spec.min_args:
            raise UsageError(f"'berth {name}' requires {spec.min_args} {need}", 1)
        raise UsageError(f"'berth {name}' requires at least {spec.min_args} {need}", 1)
    if spec.max_args is not None and len(args) > spec.max_args:
        if spec.max_args == 0:
            raise UsageError(f"'berth {name}' accepts no arguments", 1)
        need = "argument" if spec.max_args == 1 else "arguments"
        if spec.max_args == spec.min_args:
            raise UsageError(f"'berth {name}' requires {spec.max_args} {need}", 1)
        raise UsageError(f"'berth {name}' requires at most {spec.max_args} {need}", 1)

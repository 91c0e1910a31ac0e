"""The subset of Go's text/template that `--format` users write.

Supported: `{{.Field.Sub}}`, `{{.}}`, `{{json .}}`, pipes (`{{.Name | upper}}`),
`{{if}}`/`{{else if}}`/`{{else}}`/`{{end}}`, `{{range}}` (with `$i, $v :=`),
`{{with}}`, variables, `{{- trim -}}` markers, parentheses, string/number/bool
literals, and the functions docker adds (json, join, split, lower, upper, title,
pad, truncate, println) plus Go's builtins (len, index, print, printf, eq, ne,
lt, le, gt, ge, and, or, not). Values print as Go's `%v` would for decoded JSON:
`map[a:1 b:2]`, `[x y]`, `<no value>` for a missing key, `<nil>` for null.
A context value may be a callable (ps's `{{.Label "k"}}`).
"""

from __future__ import annotations

from berth.cli.values import MISSING, Row, to_text

__all__ = ["MISSING", "Row", "Template", "TemplateError", "render", "to_json", "to_text"]

TYPE_CHECKING = False  # `collections.abc` and `typing` cost ms at start-up
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class TemplateError(ValueError):
    """A template that does not parse or cannot run against its data."""


def to_json(value: Any) -> str:
    """json.Marshal: compact, with Go's HTML escaping of <, > and &."""
    from berth import jsoncodec as json

    if value is MISSING:
        value = None
    if isinstance(value, Row):
        value = value.plain()
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def truthy(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


# -- functions --------------------------------------------------------------


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key, MISSING)
        elif isinstance(item, list | tuple | str):
            try:
                item = item[int(key)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(f"error calling index: index out of range: {key}") from None
        else:
            raise TemplateError(
                f"error calling index: can't index item of type {type(item).__name__}"
            )
    return item


def _printf(fmt: str, *args: Any) -> str:
    out, i, n = [], 0, 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            j = i + 1
            while j < len(fmt) and fmt[j] in "-+ #0123456789.":
                j += 1
            verb = fmt[j] if j < len(fmt) else "v"
            spec = fmt[i + 1 : j]
            if verb == "%":
                out.append("%")
            else:
                arg = args[n] if n < len(args) else MISSING
                n += 1
                if verb == "q":
                    from berth.cli.humanize import go_quote

                    text = go_quote(to_text(arg))
                elif verb in "dfgexXo" and isinstance(arg, int | float):
                    text = ("%" + spec + verb) % arg
                else:
                    text = ("%" + spec + "s") % to_text(arg)
                out.append(text)
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _cmp(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a, b
    return to_text(a), to_text(b)


def _truncate(s: Any, n: Any) -> str:
    text = to_text(s)
    return text[: int(n)]


def _pad(s: Any, left: Any, right: Any) -> str:
    return " " * int(left) + to_text(s) + " " * int(right)


def _title(s: Any) -> str:
    text = to_text(s)
    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))


FUNCS: dict[str, Callable[..., Any]] = {
    "json": to_json,
    "join": lambda items, sep: sep.join(to_text(x) for x in (items or [])),
    "split": lambda s, sep: to_text(s).split(sep),
    "lower": lambda s: to_text(s).lower(),
    "upper": lambda s: to_text(s).upper(),
    "title": _title,
    "pad": _pad,
    "truncate": _truncate,
    "len": lambda x: len(x) if x not in (None, MISSING) else 0,
    "index": _index,
    "print": lambda *a: "".join(to_text(x) for x in a),
    "println": lambda *a: " ".join(to_text(x) for x in a) + "\n",
    "printf": _printf,
    "eq": lambda a, *bs: any(_cmp(a, b)[0] == _cmp(a, b)[1] for b in bs),
    "ne": lambda a, b: _cmp(a, b)[0] != _cmp(a, b)[1],
    "lt": lambda a, b: _cmp(a, b)[0] < _cmp(a, b)[1],
    "le": lambda a, b: _cmp(a, b)[0] <= _cmp(a, b)[1],
    "gt": lambda a, b: _cmp(a, b)[0] > _cmp(a, b)[1],
    "ge": lambda a, b: _cmp(a, b)[0] >= _cmp(a, b)[1],
    "not": lambda a: not truthy(a),
}


# -- lexing -----------------------------------------------------------------


def _split(source: str) -> list[tuple[str, str]]:
    """Text and action pieces, with `{{-`/`-}}` trimming applied."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            pieces.append(("text", source[pos:]))
            break
        text = source[pos:start]
        end = source.find("}}", start)
        if end < 0:
            raise TemplateError("template: unclosed action")
        inner = source[start + 2 : end]
        if inner.startswith("- ") or inner == "-":
            text = text.rstrip()
            inner = inner[1:]
        trim_right = inner.endswith(" -")
        if trim_right:
            inner = inner[:-1]
        pieces.append(("text", text))
        pieces.append(("action", inner.strip()))
        pos = end + 2
        if trim_right:
            while pos < len(source) and source[pos] in " \t\r\n":
                pos += 1
    return [p for p in pieces if p != ("text", "")]


def _tokens(action: str) -> list[str]:
    toks: list[str] = []
    i = 0
    while i < len(action):
        ch = action[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == '"':
            j = i + 1
            while j < len(action) and action[j] != '"':
                j += 2 if action[j] == "\\" else 1
            if j >= len(action):
                raise TemplateError("template: unterminated quoted string")
            toks.append(action[i : j + 1])
            i = j + 1
        elif ch == "`":
            j = action.find("`", i + 1)
            if j < 0:
                raise TemplateError("template: unterminated raw quoted string")
            toks.append(action[i : j + 1])
            i = j + 1
        elif ch == ")" and action[i + 1 : i + 2] == ".":
            # `(index .M "k").Field`: a field chain on a parenthesized result
            j = i + 1
            while j < len(action) and action[j] not in ' \t\r\n()|,"`=':
                j += 1
            toks.append(")")
            toks.append("@" + action[i + 1 : j])
            i = j
        elif ch in "()|,":
            toks.append(ch)
            i += 1
        elif action.startswith(":=", i):
            toks.append(":=")
            i += 2
        elif ch == "=":
            toks.append("=")
            i += 1
        else:
            j = i
            while (
                j < len(action)
                and action[j] not in ' \t\r\n()|,"`='
                and not action.startswith(":=", j)
            ):
                j += 1
            toks.append(action[i:j])
            i = j
    return toks


# -- parsing ----------------------------------------------------------------
# Nodes are tuples: ("text", s) ("out", pipe) ("if", [(pipe, body)...], else_body)
# ("range", vars, pipe, body, else_body) ("with", pipe, body, else_body)
# A pipe is (decl_vars, [command...]); a command is [operand...];
# an operand is ("field", base, path) | ("lit", value) | ("func", name) | ("sub", pipe).


def _parse_operand(toks: list[str], i: int) -> tuple[Any, int]:
    tok = toks[i]
    if tok == "(":
        depth, j = 1, i + 1
        while j < len(toks) and depth:
            depth += {"(": 1, ")": -1}.get(toks[j], 0)
            j += 1
        if depth:
            raise TemplateError("template: unclosed left paren")
        node: Any = ("sub", _parse_pipe(toks[i + 1 : j - 1]))
        if j < len(toks) and toks[j].startswith("@."):
            node = ("chain", node, toks[j][2:].split("."))
            j += 1
        return node, j
    if tok.startswith('"'):
        from berth import jsoncodec as json

        try:
            return ("lit", json.loads(tok)), i + 1
        except ValueError:
            raise TemplateError(f"template: bad string {tok}") from None
    if tok.startswith("`"):
        return ("lit", tok[1:-1]), i + 1
    if tok in ("true", "false"):
        return ("lit", tok == "true"), i + 1
    if tok == "nil":
        return ("lit", None), i + 1
    if tok[0].isdigit() or (tok[0] == "-" and len(tok) > 1 and tok[1].isdigit()):
        try:
            return ("lit", int(tok)), i + 1
        except ValueError:
            try:
                return ("lit", float(tok)), i + 1
            except ValueError:
                raise TemplateError(f"template: bad number syntax: {tok!r}") from None
    if tok == ".":
        return ("field", ".", []), i + 1
    if tok.startswith("."):
        return ("field", ".", tok[1:].split(".")), i + 1
    if tok.startswith("$"):
        name, _, rest = tok.partition(".")
        return ("field", name, rest.split(".") if rest else []), i + 1
    if tok in FUNCS or tok in ("and", "or"):
        return ("func", tok), i + 1
    raise TemplateError(f'template: function "{tok}" not defined')


def _parse_pipe(toks: list[str]) -> tuple[list[str], list[list[Any]]]:
    decl: list[str] = []
    if ":=" in toks or "=" in toks:
        op = ":=" if ":=" in toks else "="
        k = toks.index(op)
        decl = [t for t in toks[:k] if t != ","]
        toks = toks[k + 1 :]
    commands: list[list[Any]] = []
    current: list[Any] = []
    i = 0
    while i < len(toks):
        if toks[i] == "|":
            if not current:
                raise TemplateError("template: missing command before |")
            commands.append(current)
            current = []
            i += 1
            continue
        node, i = _parse_operand(toks, i)
        current.append(node)
    if not current:
        raise TemplateError("template: missing value for command")
    commands.append(current)
    return decl, commands


def parse(source: str) -> list[Any]:
    pieces = _split(source)
    pos = 0

    def block(stop: tuple[str, ...]) -> tuple[list[Any], str]:
        nonlocal pos
        body: list[Any] = []
        while pos < len(pieces):
            kind, value = pieces[pos]
            pos += 1
            if kind == "text":
                body.append(("text", value))
                continue
            if value.startswith("/*"):
                continue
            word = value.split(None, 1)[0] if value else ""
            rest = value[len(word) :].strip()
            if word in stop:
                return body, value
            if word == "if":
                branches = [(_parse_pipe(_tokens(rest)), None)]
                bodies: list[Any] = []
                else_body: list[Any] = []
                while True:
                    inner, ender = block(("else", "end"))
                    bodies.append(inner)
                    if ender == "end":
                        break
                    cond = ender[len("else") :].strip()
                    if cond.startswith("if "):
                        branches.append((_parse_pipe(_tokens(cond[3:])), None))
                        continue
                    else_body, _ = block(("end",))
                    break
                body.append(("if", [(b[0], bodies[k]) for k, b in enumerate(branches)], else_body))
            elif word in ("range", "with"):
                pipe = _parse_pipe(_tokens(rest))
                inner, ender = block(("else", "end"))
                else_body = []
                if ender != "end":
                    else_body, _ = block(("end",))
                if word == "range":
                    body.append(("range", pipe[0], pipe, inner, else_body))
                else:
                    body.append(("with", pipe, inner, else_body))
            elif word in ("end", "else"):
                raise TemplateError(f"template: unexpected {{{{{word}}}}}")
            elif word in ("define", "template", "block"):
                raise TemplateError(f"template: {word} is not supported")
            else:
                body.append(("out", _parse_pipe(_tokens(value))))
        if stop:
            raise TemplateError("template: unexpected EOF")
        return body, ""

    tree, _ = block(())
    return tree


# -- execution --------------------------------------------------------------


def _lookup(value: Any, path: list[str], args: list[Any] | None = None) -> Any:
    for k, name in enumerate(path):
        if not name:
            continue
        if isinstance(value, dict):
            value = value.get(name, MISSING)
        elif value is MISSING or value is None:
            return MISSING
        else:
            attr = getattr(value, name, MISSING)
            value = attr
        if callable(value) and not isinstance(value, type):
            if k == len(path) - 1 and args is not None:
                return value(*args)
            value = value()
    return value


class Template:
    """A parsed template; `render(data)` runs it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tree = parse(source)

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._run(self.tree, data, {"$": data}, out)
        return "".join(out)

    def _operand(
        self, node: Any, dot: Any, env: dict[str, Any], args: list[Any] | None = None
    ) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "sub":
            return self._pipe(node[1], dot, env)
        if kind == "chain":
            return _lookup(self._operand(node[1], dot, env), node[2], args)
        if kind == "func":
            return FUNCS[node[1]](*(args or []))
        base = dot if node[1] == "." else env.get(node[1], MISSING)
        if node[1] != "." and node[1] not in env:
            raise TemplateError(f"template: undefined variable: {node[1]}")
        return _lookup(base, node[2], args)

    def _command(
        self, cmd: list[Any], dot: Any, env: dict[str, Any], prev: Any, has_prev: bool
    ) -> Any:
        head = cmd[0]
        args = [self._operand(n, dot, env) for n in cmd[1:]]
        if has_prev:
            args.append(prev)
        if head[0] == "func":
            name = head[1]
            if name == "and":
                result: Any = True
                for a in args:
                    result = a
                    if not truthy(a):
                        break
                return result
            if name == "or":
                result = False
                for a in args:
                    result = a
                    if truthy(a):
                        break
                return result
            try:
                return FUNCS[name](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError) as e:
                raise TemplateError(f"template: error calling {name}: {e}") from None
        if head[0] == "field" and args:
            return self._operand(head, dot, env, args)
        if args:
            raise TemplateError("template: can't give argument to non-function")
        return self._operand(head, dot, env)

    def _pipe(self, pipe: Any, dot: Any, env: dict[str, Any]) -> Any:
        decl, commands = pipe
        value: Any = None
        for k, cmd in enumerate(commands):
            value = self._command(cmd, dot, env, value, k > 0)
        if decl:
            env[decl[-1]] = value
        return value

    def _run(self, nodes: list[Any], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "out":
                value = self._pipe(node[1], dot, env)
                if not node[1][0]:
                    out.append(to_text(value))
            elif kind == "if":
                for pipe, body in node[1]:
                    if truthy(self._pipe(pipe, dot, dict(env))):
                        self._run(body, dot, env, out)
                        break
                else:
                    self._run(node[2], dot, env, out)
            elif kind == "with":
                value = self._pipe(node[1], dot, dict(env))
                if truthy(value):
                    self._run(node[2], value, env, out)
                else:
                    self._run(node[3], dot, env, out)
            elif kind == "range":
                names, pipe, body, else_body = node[1], node[2], node[3], node[4]
                value = self._pipe(([], pipe[1]), dot, env)
                if isinstance(value, dict):
                    items = [(k, value[k]) for k in sorted(value)]
                elif isinstance(value, list | tuple):
                    items = list(enumerate(value))
                elif value is None or value is MISSING:
                    items = []
                elif isinstance(value, int):
                    items = [(i, i) for i in range(value)]
                else:
                    raise TemplateError(f"template: range can't iterate over {to_text(value)}")
                if not items:
                    self._run(else_body, dot, env, out)
                for key, item in items:
                    scope = dict(env)
                    if len(names) == 1:
                        scope[names[0]] = item
                    elif len(names) >= 2:
                        scope[names[0]], scope[names[1]] = key, item
                    self._run(body, item, scope, out)


def render(source: str, data: Any) -> str:
    return Template(source).render(data)

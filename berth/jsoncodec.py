"""JSON through the stdlib's C accelerator (`_json`) alone, for the start-up of the
CLI and of berth-runc (shared code any tier may import, like errors.py).

Why not `import json`: the package imports `re` (and through it `enum`,
`functools`, ...), ~8 ms on every `berth` start, while the work itself is done
by `_json`'s C scanner and encoder anyway. The output is byte for byte what
`json.dumps` writes with the same options, and `loads` accepts exactly what
`json.loads` accepts (a unit test compares them).
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _ScanContext:
    """The attributes `_json.make_scanner` reads from a `json.JSONDecoder`."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_ScanContext())


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _WS:
        pos += 1
    return pos


def raw_decode(text: str, pos: int = 0) -> tuple[Any, int]:
    """One JSON value at `pos` (no leading whitespace): (value, end). ValueError if none."""
    try:
        return _scan(text, pos)
    except StopIteration as stop:
        raise ValueError(f"Expecting value: char {stop.value}") from None


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads` for UTF-8 bytes or text; a malformed document raises the
    stdlib's own json.JSONDecodeError (json is imported only on that path)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        if not text.startswith("\ufeff"):
            value, end = raw_decode(text, _skip_ws(text, 0))
            if _skip_ws(text, end) == len(text):
                return value
    except Exception:  # malformed (or odd enough to upset the C scanner): json decides
        pass
    import json

    return json.loads(data)


def _floatstr(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder(ensure_ascii: bool, separators: tuple[str, str]) -> Any:
    strings = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    # make_encoder(markers, default, encoder, indent, key_sep, item_sep, sort_keys,
    # skipkeys, allow_nan): the call json.encoder makes when indent is None
    return _json.make_encoder(
        {}, _default, strings, None, separators[1], separators[0], False, False, True
    )


def dumps(
    value: Any,
    *,
    separators: tuple[str, str] = (", ", ": "),
    ensure_ascii: bool = True,
    indent: int | str | None = None,
) -> str:
    """`json.dumps(value, separators=..., ensure_ascii=..., indent=...)`."""
    if indent is not None:
        out: list[str] = []
        strings = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        step = " " * indent if isinstance(indent, int) else indent
        _indented(value, out, strings, step, "\n", separators[1])
        return "".join(out)
    if isinstance(value, str):
        strings = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        return strings(value)
    return "".join(_encoder(ensure_ascii, separators)(value, 0))


def _indented(value: Any, out: list[str], strings: Any, step: str, nl: str, colon: str) -> None:
    """json's pure-Python indenting encoder: items on their own lines, "," between."""
    if isinstance(value, str):
        out.append(strings(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_floatstr(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = nl + step
        out.append("[")
        for i, item in enumerate(value):
            out.append(inner if i == 0 else "," + inner)
            _indented(item, out, strings, step, inner, colon)
        out.append(nl + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = nl + step
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(inner if i == 0 else "," + inner)
            out.append(strings(_key(key)) + colon)
            _indented(item, out, strings, step, inner, colon)
        out.append(nl + "}")
    else:
        _default(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _floatstr(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")

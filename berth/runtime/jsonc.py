"""JSON for berth-runc's own files and messages, without importing `re`.

`json.decoder` and `json.encoder` compile regular expressions at import, which
pulls in `re` and `enum`: about a quarter of berth-runc's start-up, paid by
every container start. The work itself is done by the standard library's C
accelerator `_json` either way; this module calls its scanner and encoder
directly. Anything they do not take (and every malformed document) goes through
`json` itself, so results and error messages are the standard library's.
"""

from __future__ import annotations

import _json


class _Context:
    """What `_json.make_scanner` reads from a decoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None  # NaN and Infinity: `json` handles them below
    memo = None


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Made once at import, so that a process forked from one that imported this
# module (the shim's zygote) does not make them again.
_scan = _json.make_scanner(_Context())
_encode = _json.make_encoder(
    None,  # no circular-reference check: our values are trees
    _unserializable,
    _json.encode_basestring_ascii,
    None,  # indent
    ": ",
    ", ",
    False,  # sort_keys
    False,  # skipkeys
    True,  # allow_nan
)


def loads(text: str | bytes) -> object:
    """json.loads(text); a malformed document raises json.JSONDecodeError (ValueError)."""
    try:
        s = (text.decode() if isinstance(text, bytes) else text).strip(" \t\n\r")
        value, end = _scan(s, 0)
        if end == len(s):
            return value
    except Exception:  # malformed or unusual: the standard library decides
        pass
    import json

    return json.loads(text)


def dumps(value: object) -> str:
    """json.dumps(value): default separators, ASCII output."""
    return "".join(_encode(value, 0))


def dumps_indented(value: object, indent: str = "  ", _level: int = 0) -> str:
    """json.dumps(value, indent=indent) for dicts, lists and scalars (`state`, `list`)."""
    if isinstance(value, dict) and value:
        inner = indent * (_level + 1)
        items = ",\n".join(
            f"{inner}{dumps(str(k))}: {dumps_indented(v, indent, _level + 1)}"
            for k, v in value.items()
        )
        return "{\n" + items + "\n" + indent * _level + "}"
    if isinstance(value, list) and value:
        inner = indent * (_level + 1)
        items = ",\n".join(f"{inner}{dumps_indented(v, indent, _level + 1)}" for v in value)
        return "[\n" + items + "\n" + indent * _level + "]"
    return dumps(value)


def load_file(path: str) -> object:
    """The decoded JSON file at `path` (config.json, process.json); a missing file
    or malformed JSON is InvalidArgument naming the path."""
    from berth.errors import InvalidArgument

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such file") from None
    try:
        return loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"{path}: invalid JSON: {e}") from None

"""JSON for berth-runc's own files and messages, without importing `re`: the
shared `berth.jsoncodec` (see there why), with the runtime's shorthands.
"""

from __future__ import annotations

from berth.jsoncodec import dumps as _dumps
from berth.jsoncodec import loads

__all__ = ["dumps", "dumps_indented", "load_file", "loads"]


def dumps(value: object) -> str:
    """json.dumps(value): default separators, ASCII output."""
    return _dumps(value)


def dumps_indented(value: object, indent: str = "  ") -> str:
    """json.dumps(value, indent=indent) (`state`, `list`)."""
    return _dumps(value, indent=indent)


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

"""How decoded JSON values print in `--format` output and tables.

Go's `%v` of a value (`to_text`), the marker of a missing field, and `Row`
(a ps or images row). Apart from the template engine so that a plain table
(`ps`, `images` without `--format`) prints without importing it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()


# -- value printing ---------------------------------------------------------


def to_text(value: Any) -> str:
    """Go's `%v` of a decoded JSON value."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        # Typed API fields are integers; JSON decoding made them floats only if
        # they had a fraction, so an integral float prints as an integer.
        return str(int(value)) if value == int(value) and abs(value) < 1e21 else repr(value)
    if isinstance(value, dict):
        if value and all(k[:1].isascii() and k[:1].isupper() for k in value):
            # an API object docker decodes into a Go struct: %v prints {v1 v2 ...}
            return "{" + " ".join(to_text(v) for v in value.values()) + "}"
        return "map[" + " ".join(f"{k}:{to_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    return str(value)


class Row(dict):
    """A CLI formatter's context (a ps or images row): JSON with sorted keys and
    without its methods, as docker marshals its formatter contexts."""

    def __init__(self, *maps: dict, **fields: Any) -> None:
        super().__init__()
        for m in maps:
            self.update(m)
        self.update(fields)

    def plain(self) -> dict:
        return {k: self[k] for k in sorted(self) if not callable(self[k])}

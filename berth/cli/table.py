"""Columns and `--format` output, laid out like docker's tabwriter.

Docker writes table rows through Go's tabwriter with minimum width 10 and padding
3: a column is as wide as its widest cell plus 3, and at least 10; the last cell
of a line is not padded. `--format` takes `table TEMPLATE` (a header line, then
rows, tab-separated cells aligned), `json` (one JSON object per line), or a bare
template (one rendered line per item, no alignment).
"""

from __future__ import annotations

from berth.cli.values import MISSING, to_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

MIN_WIDTH = 10
PADDING = 3


def align(lines: Iterable[str]) -> str:
    """Go tabwriter semantics for tab-separated lines (cells end at each tab)."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for cells in rows:
        for i, cell in enumerate(cells[:-1]):
            widths[i] = max(widths.get(i, 0), max(len(cell) + PADDING, MIN_WIDTH))
    out = []
    for cells in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        parts.append(cells[-1])
        out.append("".join(parts))
    return "".join(line + "\n" for line in out)


def _unescape(fmt: str) -> str:
    # docker lets users type `\t` and `\n` literally in --format
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def render(
    fmt: str,
    items: list[Any],
    headers: dict[str, str],
) -> str:
    """Render items with a docker-style --format (`table ...`, `json`, or a template)."""
    fmt = _unescape(fmt)
    if fmt == "json":
        from berth.cli.template import to_json

        return "".join(to_json(item) + "\n" for item in items)
    if fmt.startswith("table"):
        body = fmt[len("table") :].lstrip(" ")
        fields = _plain_fields(body)
        if fields is not None:
            header = _HeaderContext(headers)
            lines = ["\t".join(str(header.get(name)) for name in fields)]
            lines += ["\t".join(_field(item, name) for name in fields) for item in items]
        else:
            from berth.cli.template import Template

            template = Template(body)
            lines = [template.render(_HeaderContext(headers))]
            lines += [template.render(item) for item in items]
        return align("\n".join(lines).split("\n"))
    fields = _plain_fields(fmt)
    if fields is not None:  # `ps -q` is `{{.ID}}`
        return "".join("\t".join(_field(item, n) for n in fields) + "\n" for item in items)
    from berth.cli.template import Template

    template = Template(fmt)
    return "".join(template.render(item) + "\n" for item in items)


def _plain_fields(body: str) -> list[str] | None:
    """`{{.ID}}\t{{.Image}}` -> ["ID", "Image"]; None unless every cell is one field.

    The default `ps`/`images` tables are such formats: their rows are printed
    without running the template engine (hundreds of rows, every `ps`)."""
    names = []
    for cell in body.split("\t"):
        name = cell[3:-2]
        if not (cell.startswith("{{.") and cell.endswith("}}") and name.isidentifier()):
            return None
        names.append(name)
    return names


def _field(item: Any, name: str) -> str:
    """What `{{.name}}` prints for one item (a dict; a callable value is called)."""
    value = item.get(name, MISSING) if isinstance(item, dict) else getattr(item, name, MISSING)
    if type(value) is str:  # nearly every cell
        return value
    if callable(value) and not isinstance(value, type):
        value = value()
    return to_text(value)


class _HeaderContext(dict):
    """Renders the header line: each `.Field` yields its column title."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__()
        self.headers = headers

    def get(self, key: str, default: Any = None) -> Any:
        title = self.headers.get(key)
        if title is None:
            import re

            title = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", key).upper()
        return _HeaderValue(title)


class _HeaderValue(str):
    """A header title that also answers calls (`{{.Label "x"}}`) and sub-fields."""

    def __call__(self, *args: Any) -> str:
        return str(self)

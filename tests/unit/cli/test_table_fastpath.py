"""A `table` format of plain fields prints exactly what the template engine prints."""

from __future__ import annotations

from berth.cli import table
from berth.cli.template import Row

HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES", "RunningFor": "CREATED"}

ROWS = [
    Row({"ID": "0123456789ab", "Image": "busybox", "Names": "a", "RunningFor": "2 hours ago"}),
    Row({"ID": "ba9876543210", "Image": "x" * 40, "Names": "b,c", "RunningFor": "now"}),
    Row(
        {
            "ID": "c" * 12,
            "Image": None,
            "Names": ["l", "m"],
            "Label": lambda key="": "called",
            "Size": 12.0,
            "Flag": True,
            "Map": {"b": 2, "a": 1},
        }
    ),
]


def _engine(fmt: str) -> str:
    # spaces inside the braces send the same fields through the template engine
    return table.render(fmt.replace("{{.", "{{ .").replace("}}", " }}"), ROWS, HEADERS)


def test_plain_fields_take_the_fast_path() -> None:
    assert table._plain_fields("{{.ID}}\t{{.Image}}") == ["ID", "Image"]
    for other in ("{{ .ID }}", "{{.ID}} x", "{{.Config.Env}}", "{{json .}}", "{{.ID}}\t"):
        assert table._plain_fields(other) is None


def test_fast_path_prints_what_the_engine_prints() -> None:
    for fmt in (
        "table {{.ID}}\t{{.Image}}\t{{.RunningFor}}\t{{.Names}}",
        "table {{.Names}}",
        "table {{.ID}}\t{{.Missing}}\t{{.Label}}\t{{.Size}}\t{{.Flag}}\t{{.Map}}",
        "table {{.CustomField}}\t{{.ID}}",
        "{{.ID}}",
        "{{.ID}}\t{{.Names}}\t{{.Map}}",
    ):
        fast = table.render(fmt, ROWS, HEADERS)
        assert fast == _engine(fmt)
    out = table.render("table {{.ID}}\t{{.Image}}", ROWS, HEADERS).splitlines()
    assert out[0] == "CONTAINER ID   IMAGE"
    assert out[1] == "0123456789ab   busybox"
    assert out[3] == "cccccccccccc   <nil>"

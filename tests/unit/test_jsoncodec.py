"""berth.jsoncodec writes and reads exactly what the stdlib's json does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from berth import jsoncodec

DOCS = [
    {
        "Id": "a" * 64,
        "Names": ["/x"],
        "Labels": {"k": 'v\u00e9\n"<>&\t', "\u2603": ""},
        "Created": 1700000000,
        "Float": 2.5,
        "Tiny": 1e-7,
        "Big": 10**30,
        "NegZero": -0.0,
        "Inf": float("inf"),
        "MinusInf": float("-inf"),
        "Null": None,
        "Flags": [True, False, None],
        "Empty": {"list": [], "dict": {}, "nested": [[[]], [{}]]},
    },
    [],
    {},
    "plain",
    "\U0001f600 emoji",
    0,
    -12,
    None,
    [1, [2, [3, {"a": [4]}]]],
]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_dumps_matches_json(doc: object, ensure_ascii: bool) -> None:
    assert jsoncodec.dumps(doc, ensure_ascii=ensure_ascii) == json.dumps(
        doc, ensure_ascii=ensure_ascii
    )
    compact = (",", ":")
    assert jsoncodec.dumps(doc, separators=compact, ensure_ascii=ensure_ascii) == json.dumps(
        doc, separators=compact, ensure_ascii=ensure_ascii
    )
    for indent in (4, "\t", 0):
        assert jsoncodec.dumps(doc, indent=indent, ensure_ascii=ensure_ascii) == json.dumps(
            doc, indent=indent, ensure_ascii=ensure_ascii
        )


def test_dumps_tuples_and_non_string_keys_as_json_does() -> None:
    doc = {1: (1, 2), 2.5: "x", False: None, None: 0}
    assert jsoncodec.dumps(doc) == json.dumps(doc)
    assert jsoncodec.dumps(doc, indent=2) == json.dumps(doc, indent=2)


def test_dumps_refuses_what_json_refuses() -> None:
    for bad in ({"a": object()}, [b"bytes"]):
        with pytest.raises(TypeError):
            jsoncodec.dumps(bad)
        with pytest.raises(TypeError):
            jsoncodec.dumps(bad, indent=4)


@pytest.mark.parametrize("doc", DOCS)
def test_loads_round_trip(doc: object) -> None:
    text = json.dumps(doc)
    assert repr(jsoncodec.loads(text)) == repr(json.loads(text))
    assert repr(jsoncodec.loads((" \n" + text + "\r\n").encode())) == repr(json.loads(text))


@pytest.mark.parametrize(
    "bad", ["", "  ", "{", "[1,]", "1 2", "nul", '{"a" 1}', '"open', "[1] x", "\ufeff[]"]
)
def test_loads_rejects_what_json_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        jsoncodec.loads(bad)


def test_raw_decode_stops_at_the_value_end() -> None:
    value, end = jsoncodec.raw_decode('{"a": 1}{"b": 2}')
    assert value == {"a": 1}
    assert end == 8
    with pytest.raises(ValueError):
        jsoncodec.raw_decode('{"a": ')


def test_importing_it_loads_neither_json_nor_re() -> None:
    code = (
        "import sys; import berth.jsoncodec as j; j.loads('[1]'); j.dumps({'a': [1]});"
        " j.dumps([1], indent=4); print(sorted({'json', 're'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path.insert(0, {_repo()!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def _repo() -> str:
    from pathlib import Path

    return str(Path(jsoncodec.__file__).resolve().parents[1])

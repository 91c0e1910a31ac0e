"""The json-file log writer: Docker's line format, partial lines, rotation."""

from __future__ import annotations

import json

from berth.shim.jsonlog import PARTIAL_MAX, JsonLog, entry, rfc3339nano


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rfc3339nano_trims_trailing_zeros_like_go():
    assert rfc3339nano(1_000_000_000) == "1970-01-01T00:00:01Z"
    assert rfc3339nano(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert rfc3339nano(1_795_927_091_864_574_426) == "2026-11-29T04:38:11.864574426Z"


def test_entry_escapes_and_replaces_bad_utf8():
    raw = entry(b'say "hi"\t\xff\n', "stderr", 1_000_000_000)
    assert raw.endswith(b"\n")
    obj = json.loads(raw)
    assert obj == {"log": 'say "hi"\t\ufffd\n', "stream": "stderr", "time": "1970-01-01T00:00:01Z"}


def test_lines_are_split_and_partials_held(tmp_path):
    log = JsonLog(str(tmp_path / "c-json.log"))
    log.write("stdout", b"one\ntw")
    log.write("stderr", b"err\n")
    log.write("stdout", b"o\nthree")
    assert [(e["log"], e["stream"]) for e in lines(tmp_path / "c-json.log")] == [
        ("one\n", "stdout"),
        ("err\n", "stderr"),
        ("two\n", "stdout"),
    ]
    log.close()
    assert lines(tmp_path / "c-json.log")[-1]["log"] == "three"


def test_long_line_is_cut_into_partial_entries(tmp_path):
    log = JsonLog(str(tmp_path / "l"))
    log.write("stdout", b"x" * (PARTIAL_MAX * 2 + 5))
    assert [len(e["log"]) for e in lines(tmp_path / "l")] == [PARTIAL_MAX, PARTIAL_MAX]
    log.close()
    assert len(lines(tmp_path / "l")[-1]["log"]) == 5


def test_rotation_shifts_files_and_keeps_max_file(tmp_path):
    path = tmp_path / "r"
    log = JsonLog(str(path), max_size=300, max_file=3)
    for i in range(40):
        log.write("stdout", f"message {i}\n".encode())
    log.close()
    assert path.exists() and (tmp_path / "r.1").exists() and (tmp_path / "r.2").exists()
    assert not (tmp_path / "r.3").exists()
    kept = []
    for f in (tmp_path / "r.2", tmp_path / "r.1", path):
        assert f.stat().st_size <= 300
        kept += [int(e["log"].split()[1]) for e in lines(f)]
    assert kept == list(range(kept[0], 40))


def test_max_file_one_truncates(tmp_path):
    path = tmp_path / "t"
    log = JsonLog(str(path), max_size=200, max_file=1)
    for i in range(30):
        log.write("stdout", f"message {i}\n".encode())
    log.close()
    assert not (tmp_path / "t.1").exists()
    assert path.stat().st_size <= 200
    assert lines(path)[-1]["log"] == "message 29\n"


def test_reopening_appends_and_counts_existing_size(tmp_path):
    path = tmp_path / "a"
    first = JsonLog(str(path), max_size=10_000)
    first.write("stdout", b"before restart\n")
    first.close()
    second = JsonLog(str(path), max_size=10_000)
    second.write("stdout", b"after\n")
    second.close()
    assert [e["log"] for e in lines(path)] == ["before restart\n", "after\n"]

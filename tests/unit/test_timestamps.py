"""berth/timestamps.py: one RFC 3339 writer and reader for every tier."""

from __future__ import annotations

import datetime

import pytest

from berth import timestamps


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-11-29T04:10:57.123456789Z", 1_795_925_457_123_456_789),
        ("2026-11-29T04:10:57Z", 1_795_925_457_000_000_000),
        ("2026-11-29T06:10:57.5+02:00", 1_795_925_457_500_000_000),
        ("2026-11-28T23:10:57-05:00", 1_795_925_457_000_000_000),
        ("2026-11-29T04:10", 1_795_925_400_000_000_000),
        ("2026-11-29", 1_795_910_400_000_000_000),
    ],
)
def test_parse_reads_rfc3339_and_dockers_short_forms(text, ns):
    assert timestamps.parse_ns(text) == ns


@pytest.mark.parametrize(
    "text", ["", "x", "2026-13-01", "2026-11-29T4:10", "2026-11-29T04:10:57.x"]
)
def test_parse_refuses_what_is_not_a_time(text):
    with pytest.raises(ValueError):
        timestamps.parse_ns(text)


def test_format_is_gos_rfc3339nano_and_round_trips():
    assert timestamps.format_ns(1_795_925_457_120_000_000) == "2026-11-29T04:10:57.12Z"
    assert timestamps.format_ns(1_795_925_457_000_000_000) == "2026-11-29T04:10:57Z"
    assert timestamps.format_ns(0) == timestamps.ZERO_TIME
    now = timestamps.now()
    parsed = timestamps.parse_seconds(now)
    expected = datetime.datetime.now(datetime.UTC).timestamp()
    assert abs(parsed - expected) < 60
    assert timestamps.format_ns(timestamps.parse_ns(now)) == now

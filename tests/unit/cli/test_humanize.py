"""Times and sizes printed with docker's (go-units') rules."""

from __future__ import annotations

import pytest

from berth.cli import humanize


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "Less than a second"),
        (1, "1 second"),
        (5, "5 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (59 * 60, "59 minutes"),
        (3600, "About an hour"),
        (2 * 3600, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (60 * 86400, "2 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert humanize.duration(seconds) == text


def test_ago() -> None:
    assert humanize.ago(1000, now=1005) == "5 seconds ago"
    assert humanize.ago(2000, now=1000) == "Less than a second ago"


@pytest.mark.parametrize(
    ("num", "precision", "text"),
    [
        (0, 3, "0B"),
        (999, 3, "999B"),
        (1000, 3, "1kB"),
        (1979520, 3, "1.98MB"),
        (1979520, 4, "1.98MB"),
        (123456789, 4, "123.5MB"),
        (5 * 10**9, 3, "5GB"),
    ],
)
def test_size(num: int, precision: int, text: str) -> None:
    assert humanize.size(num, precision) == text


def test_bytes_size_is_binary() -> None:
    assert humanize.bytes_size(1024) == "1KiB"
    assert humanize.bytes_size(1536 * 1024) == "1.5MiB"


@pytest.mark.parametrize(
    ("text", "num"),
    [
        ("1024", 1024),
        ("64m", 64 << 20),
        ("64M", 64 << 20),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("2mb", 2 << 20),
    ],
)
def test_parse_size(text: str, num: int) -> None:
    assert humanize.parse_size(text) == num


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        humanize.parse_size("lots")


def test_parse_duration_and_timestamps() -> None:
    assert humanize.parse_duration("1m30s") == 90
    assert humanize.parse_duration("500ms") == 0.5
    assert humanize.parse_timestamp("10m", now=10_000) == str(10_000 - 600)
    assert humanize.parse_timestamp("1700000000") == "1700000000"
    assert humanize.parse_timestamp("2024-01-02T03:04:05Z") == "1704164645"
    with pytest.raises(ValueError):
        humanize.parse_duration("10 parsecs")


def test_rfc3339_to_unix() -> None:
    assert humanize.rfc3339_to_unix("2024-01-02T03:04:05.5Z") == pytest.approx(1704164645.5)
    assert humanize.rfc3339_to_unix("0001-01-01T00:00:00Z") == 0


def test_ids_commands_and_quotes() -> None:
    assert humanize.short_id("sha256:" + "ab" * 32) == "abababababab"
    assert humanize.ellipsis("sh -c 'sleep 1000; echo done'", 20) == "sh -c 'sleep 1000; …"
    assert humanize.go_quote('sh -c "x"\n') == '"sh -c \\"x\\"\\n"'

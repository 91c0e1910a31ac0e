"""RFC 3339 times as the Engine API, image configs and json-file logs carry them.

One writer (Go's time.RFC3339Nano: UTC, fraction without trailing zeros) and one
reader (any fraction length, `Z` or an offset) for every tier, so that what one
package writes another reads back to the same nanosecond. Only `time` is
imported: the runtime and the CLI use it on their start-up path.
"""

from __future__ import annotations

import time

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, Docker's "never"


def format_ns(ns: int | None) -> str:
    """`ns` since the epoch as RFC3339Nano; 0 or None is Docker's zero time."""
    if not ns:
        return ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    base = f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}"
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def format_seconds(seconds: float) -> str:
    return format_ns(int(seconds * 1_000_000_000))


def now() -> str:
    return format_ns(time.time_ns())


def parse_ns(text: str) -> int:
    """RFC 3339 (`2026-11-29T04:10:57.123456789Z`, `...+02:00`), and the shorter forms
    Docker's `--since` takes (`2026-11-29T04:10`, `2026-11-29T04`, `2026-11-29`); a
    time without a zone is UTC. To ns since the epoch; ValueError when it is none."""
    import calendar

    text = text.strip()
    date, _, clock = text.partition("T")
    if len(date) != 10 or date[4] != "-" or date[7] != "-":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    offset = 0
    if clock.endswith(("Z", "z")):
        clock = clock[:-1]
    elif len(clock) > 6 and clock[-6] in "+-" and clock[-3] == ":":
        sign = 1 if clock[-6] == "+" else -1
        offset = sign * (int(clock[-5:-3]) * 3600 + int(clock[-2:]) * 60)
        clock = clock[:-6]
    hms, _, frac = clock.partition(".")
    parts = hms.split(":") if hms else []
    if len(parts) > 3 or any(len(p) != 2 or not p.isdigit() for p in parts):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    if frac and (len(parts) != 3 or not frac.isdigit()):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    h, m, sec = (*map(int, parts), 0, 0, 0)[:3]
    year, month, day = int(date[:4]), int(date[5:7]), int(date[8:10])
    if not (1 <= month <= 12 and 1 <= day <= 31 and h < 24 and m < 60 and sec < 61):
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    secs = calendar.timegm((year, month, day, h, m, sec, 0, 0, 0)) - offset
    return secs * 1_000_000_000 + int((frac + "000000000")[:9])


def parse_seconds(text: str) -> float:
    return parse_ns(text) / 1_000_000_000

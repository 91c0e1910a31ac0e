"""Times as the Engine API writes and reads them."""

from __future__ import annotations

import datetime as _dt
import re
import time

from berth.errors import InvalidArgument

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339_nano(ns: int | None) -> str:
    """RFC 3339 with nanoseconds, UTC, as Go's time.RFC3339Nano (trailing zeros trimmed)."""
    if not ns:
        return ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + "Z"


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_time_nano(value: str | None, now_ns: int | None = None) -> int | None:
    """`since`/`until` query values: unix seconds (with fraction), RFC 3339, or a
    Go duration ("10m") meaning that long ago."""
    if value is None or value == "":
        return None
    now_ns = now_ns if now_ns is not None else time.time_ns()
    v = value.strip()
    try:
        if re.fullmatch(r"\d+(\.\d+)?", v):
            secs, _, frac = v.partition(".")
            return int(secs) * 10**9 + int((frac + "000000000")[:9])
        m = _DURATION.match(v)
        if m:
            return now_ns - int(float(m.group(1)) * _UNITS[m.group(2)])
        text = v.replace("Z", "+00:00")
        frac_ns = 0
        fm = re.search(r"\.(\d+)", text)
        if fm:
            frac_ns = int((fm.group(1) + "000000000")[:9])
            text = text[: fm.start()] + text[fm.end() :]
        parsed = _dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.UTC)
        return int(parsed.timestamp()) * 10**9 + frac_ns
    except ValueError as exc:
        raise InvalidArgument(f"invalid time value {value!r}") from exc

"""Times as the Engine API writes and reads them."""

from __future__ import annotations

import re
import time

from berth import timestamps
from berth.errors import InvalidArgument

# One writer and reader for every tier (berth/timestamps.py); the names the daemon uses.
rfc3339_nano = timestamps.format_ns
ZERO_TIME = timestamps.ZERO_TIME


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
        return timestamps.parse_ns(v)
    except ValueError as exc:
        raise InvalidArgument(f"invalid time value {value!r}") from exc

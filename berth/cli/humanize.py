"""Times, sizes and ids printed the way docker prints them (go-units rules)."""

from __future__ import annotations

import time

from berth.durations import human_duration as duration

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def ago(unix_seconds: float, now: float | None = None) -> str:
    """ "2 hours ago" for a Unix timestamp (the CREATED column)."""
    now = time.time() if now is None else now
    return duration(max(0.0, now - unix_seconds)) + " ago"


def go_time(unix: float) -> str:
    """Go's time.Time String() in UTC: `2026-11-29 04:10:57 +0000 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(unix))


def _scaled(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def _go_g(value: float, precision: int) -> str:
    """Go's %.Ng: like Python's, but exponents have at least two digits."""
    text = f"{value:.{precision}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def size(num_bytes: float, precision: int = 4) -> str:
    """Decimal size, "1.98MB" (HumanSizeWithPrecision; images/ps use precision 3)."""
    value, unit = _scaled(float(num_bytes), 1000.0, _DECIMAL)
    return _go_g(value, precision) + unit


def bytes_size(num_bytes: float) -> str:
    """Binary size, "1.5MiB" (BytesSize: stats' memory columns)."""
    value, unit = _scaled(float(num_bytes), 1024.0, _BINARY)
    return _go_g(value, 4) + unit


def parse_size(text: str) -> int:
    """`--memory 512m`, `--shm-size 64M`, `1g`, `1024` -> bytes (binary units, as docker)."""
    t = text.strip().lower()
    if t.endswith("b") and len(t) > 1 and not t[-2].isdigit():
        t = t[:-1]
    elif t.endswith("ib"):
        t = t[:-2]
    mult = 1
    if t and t[-1] in "kmgtp":
        mult = 1024 ** ("kmgtp".index(t[-1]) + 1)
        t = t[:-1]
    elif t.endswith("b"):
        t = t[:-1]
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    if value < 0:
        raise ValueError(f"invalid size: '{text}'")
    return int(value * mult)


def short_id(ident: str) -> str:
    """The 12-hex form of an id, without its `sha256:` prefix."""
    if ":" in ident:
        ident = ident.split(":", 1)[1]
    return ident[:12]


def ellipsis(text: str, width: int) -> str:
    """Cut to `width` characters with a trailing "…" (docker's COMMAND column)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote: double quotes, Go escapes (the COMMAND column)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_duration(text: str) -> float:
    """Go durations (`10s`, `1m30s`, `2h`, `500ms`) to seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    t = text.strip()
    if not t:
        raise ValueError("invalid duration: empty")
    total, i = 0.0, 0
    while i < len(t):
        j = i
        while j < len(t) and (t[j].isdigit() or t[j] == "."):
            j += 1
        if j == i:
            raise ValueError(f"invalid duration: {text!r}")
        k = j
        while k < len(t) and not (t[k].isdigit() or t[k] == "."):
            k += 1
        unit = t[j:k]
        if unit not in units:
            raise ValueError(f"invalid duration: {text!r}")
        total += float(t[i:j]) * units[unit]
        i = k
    return total


def parse_timestamp(text: str, now: float | None = None) -> str:
    """`--since/--until` values: Unix seconds, RFC 3339, or a duration before now."""
    t = text.strip()
    try:
        float(t)
        return t
    except ValueError:
        pass
    if t and t[-1].isalpha() and t[0].isdigit() and "-" not in t and ":" not in t:
        now = time.time() if now is None else now
        return str(int(now - parse_duration(t)))
    from datetime import datetime

    iso = t.replace("Z", "+00:00")
    if "T" not in iso and len(iso) == 10:
        iso += "T00:00:00+00:00"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"invalid time format: {text!r}") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp()))


def rfc3339_to_unix(text: str) -> float:
    """An Engine API timestamp ("2026-11-29T04:10:57.123456789Z") to Unix seconds."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    from datetime import datetime

    main, _, rest = text.partition(".")
    frac = "0"
    tz = "+00:00"
    if rest:
        digits = ""
        for i, ch in enumerate(rest):
            if ch.isdigit():
                digits += ch
            else:
                tz = rest[i:]
                break
        frac = digits or "0"
    elif main.endswith("Z"):
        main = main[:-1]
    else:
        for sep in ("+", "-"):
            pos = main.rfind(sep)
            if pos > 10:
                main, tz = main[:pos], main[pos:]
                break
    if tz == "Z":
        tz = "+00:00"
    moment = datetime.fromisoformat(main.rstrip("Z") + tz)
    return moment.timestamp() + float("0." + frac)

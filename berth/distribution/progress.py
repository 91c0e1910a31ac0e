"""Docker's JSON progress messages, as `docker pull` / `docker push` stream them.

Each message is a dict the API writes as one JSON line: a status with an
optional layer `id` (12 hex of the blob digest), `progressDetail`
{current, total} and a rendered `progress` bar, or `errorDetail`/`error` at the
end of a failed operation. `Reporter` serialises calls from the download
threads and thins out "Downloading" messages to a few per second per layer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Emit = Callable[[dict[str, Any]], None]
BAR = 50


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def bar(current: int, total: int) -> str:
    if total <= 0:
        return f"{human_size(current)}"
    filled = min(BAR, int(BAR * current / total))
    arrow = "=" * filled + (">" if filled < BAR else "") + " " * max(BAR - filled - 1, 0)
    return f"[{arrow}] {human_size(current):>8}/{human_size(total)}"


class Reporter:
    """Thread-safe emitter of progress messages."""

    def __init__(self, emit: Emit | None, interval: float = 0.1) -> None:
        self._emit = emit
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._interval = interval

    def status(self, status: str, layer: str | None = None, **extra: Any) -> None:
        msg: dict[str, Any] = {"status": status}
        if layer is not None:
            msg["progressDetail"] = {}
            msg["id"] = layer
        msg.update(extra)
        self.send(msg)

    def progress(
        self, status: str, layer: str, current: int, total: int, final: bool = False
    ) -> None:
        now = time.monotonic()
        with self._lock:
            if not final and now - self._last.get(layer + status, 0.0) < self._interval:
                return
            self._last[layer + status] = now
        self.send(
            {
                "status": status,
                "progressDetail": {"current": current, "total": total},
                "progress": bar(current, total),
                "id": layer,
            }
        )

    def aux(self, data: dict[str, Any]) -> None:
        self.send({"progressDetail": {}, "aux": data})

    def send(self, msg: dict[str, Any]) -> None:
        if self._emit is None:
            return
        with self._lock:
            self._emit(msg)


def error_message(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}

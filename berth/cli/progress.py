"""Rendering of pull/push/load/build JSON-message streams, as docker's jsonmessage does.

On a terminal, each layer id owns a line that is rewritten in place (cursor up,
clear, rewrite, cursor down) with a 50-column bar and byte counts. Elsewhere the
bars are dropped and each status prints once per line. `"stream"` messages
(build output) are written as they come; an `"error"` ends the stream with the
error kind.
"""

from __future__ import annotations

import sys

from berth.cli import humanize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, TextIO


def progress_text(detail: dict[str, Any] | None, width: int = 120) -> str:
    """`[=====>      ]  1.2MB/3.4MB` for a progressDetail, or "" when there is none."""
    if not detail:
        return ""
    current = detail.get("current") or 0
    total = detail.get("total") or 0
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{humanize.size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(50 - percentage, 0) + "] "
    numbers = f"{humanize.size(current):>8}/{humanize.size(total)}"
    if current > total:
        numbers = ""
    return bar + numbers


class Renderer:
    """Feeds JSON messages to a text stream; `tty` turns on in-place layer lines."""

    def __init__(self, out: TextIO | None = None, tty: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.lines: dict[str, int] = {}
        self.aux: list[dict[str, Any]] = []

    def feed(self, msg: dict[str, Any]) -> None:
        from berth import errors

        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            error = errors.InternalError(
                msg.get("error") or detail.get("message") or "unknown error"
            )
            error.plain = True  # type: ignore[attr-defined]  # docker prints a stream's error as is
            raise error
        if "aux" in msg:
            self.aux.append(msg["aux"])
            if "stream" not in msg and "status" not in msg:
                return
        out = self.out
        if "stream" in msg:
            out.write(msg["stream"])
            out.flush()
            return
        ident = msg.get("id") or ""
        status = msg.get("status") or ""
        bar = progress_text(msg.get("progressDetail"))
        text = msg.get("progress") if self.tty and msg.get("progress") else bar
        if not self.tty and (bar or msg.get("progress")):
            return  # docker drops progress bars when not on a terminal
        line = (f"{ident}: " if ident else "") + status + (f" {text}" if text else "")
        if not self.tty:
            out.write(line + "\n")
            return
        if ident and ("progressDetail" in msg or msg.get("progress")):
            if ident not in self.lines:
                self.lines[ident] = len(self.lines)
                out.write("\n")
            up = len(self.lines) - self.lines[ident]
            out.write(f"\033[{up}A\033[2K\r{line}\033[{up}B\r")
        else:
            self.lines.clear()
            out.write(line + "\n")
        out.flush()


def render_stream(
    messages: Iterable[dict[str, Any]], quiet: bool = False, out: TextIO | None = None
) -> list[dict[str, Any]]:
    """Render (or, with quiet, just drain and check) a stream; return its aux payloads."""
    import io

    sink = io.StringIO() if quiet else None
    renderer = Renderer(sink or out)
    for msg in messages:
        renderer.feed(msg)
    if sink is not None:
        renderer.aux.append({"quiet_output": sink.getvalue()})
    return renderer.aux

"""What attached commands share (run, start -a, attach, exec): the detach keys,
the signal proxy, and a session that relays a hijacked stream with the
terminal in raw mode and resizes forwarded.

A module of its own so that `exec` loads it without `run`'s flag tables.
"""

from __future__ import annotations

import os
import sys

from berth.cli import common, streams
from berth.cli.flags import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from berth.client.api import Client


def detach_keys(o: dict[str, Any]) -> tuple[str | None, bytes]:
    spec = o.get("detach_keys") or os.environ.get("BERTH_DETACH_KEYS") or None
    try:
        return spec, streams.parse_detach_keys(spec or streams.DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise UsageError(str(e)) from None


def proxy_signals(client: Client, cid: str) -> None:
    """Forward SIGINT/SIGTERM/SIGHUP... to the container (docker's --sig-proxy)."""
    import _signal as signal  # not `signal`: it imports enum (~3 ms)

    def forward(signum: int, _frame: object) -> None:
        try:
            client.post(f"/containers/{common.quote(cid)}/kill", params={"signal": str(signum)})
        except Exception:
            pass

    for sig in (
        signal.SIGINT,
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
    ):
        signal.signal(sig, forward)


def session(
    client: Client,
    conn: Any,
    *,
    stdin: bool,
    tty: bool,
    keys: bytes,
    resize_path: str,
    start: Any = None,
) -> bool:
    """Start (if given), then relay the stream; raw mode and resizes with a terminal."""
    # cleanups run last-first on the way out, as an ExitStack's would (contextlib
    # itself costs every exec and run ~3 ms of imports: collections, functools)
    undo: list[Callable[[], object]] = []
    try:
        if start is not None:
            start()
        if tty and sys.stdout.isatty():
            undo.append(
                streams.watch_resize(
                    lambda h, w: client.post(resize_path, params={"h": h, "w": w}),
                    sys.stdout.fileno(),
                )
            )
        if tty and stdin and sys.stdin.isatty():
            import _signal as signal  # not `signal`: it imports enum (~3 ms)

            # a SIGTERM/SIGHUP must unwind through RawTerminal, or the user's
            # terminal is left in raw mode
            for sig in (signal.SIGTERM, signal.SIGHUP):
                previous = signal.signal(sig, lambda n, _f: sys.exit(128 + n))
                undo.append(lambda sig=sig, previous=previous: signal.signal(sig, previous))
            raw = streams.RawTerminal(sys.stdin.fileno())
            raw.__enter__()
            undo.append(lambda: raw.__exit__(None, None, None))
        return streams.pump(conn, stdin=stdin, tty=tty, detach_keys=keys)
    finally:
        unwind(undo)


def unwind(undo: list[Callable[[], object]]) -> None:
    """Run every cleanup, last first; the first failure is raised after all ran."""
    error: BaseException | None = None
    while undo:
        try:
            undo.pop()()
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error

"""Client side of attach and exec: the terminal, the detach keys, and the byte pump.

With a tty the stream is raw both ways; the client terminal goes into raw mode, so
every key (Ctrl-C included) reaches the container, and SIGWINCH becomes a resize
call. Without a tty, output arrives in 8-byte multiplexed frames and stdin is sent
raw; at stdin's EOF the client half-closes the connection so the container sees
EOF too (`echo hi | berth run -i busybox cat`).

Detaching: like docker's CLI, the client watches stdin for the detach sequence
(Ctrl-P Ctrl-Q by default, `--detach-keys`) in tty mode, and also passes the keys
to the daemon (`detachKeys=`), which detects them for non-tty streams.
"""

from __future__ import annotations

import os
import select
import sys

from berth.client.frames import STDERR, SYSERR, FrameReader

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from berth.client.api import Hijacked

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(spec: str) -> bytes:
    """`ctrl-p,ctrl-q` -> b"\\x10\\x11"; `a,ctrl-@` and single letters, as docker's term.ToBytes."""
    out = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if len(part) == 1:
            out.append(ord(part))
            continue
        if not part.lower().startswith("ctrl-") or len(part) != 6:
            raise ValueError(f"Unknown character: '{part}'")
        ch = part[5].lower()
        if "a" <= ch <= "z":
            out.append(ord(ch) - ord("a") + 1)
        elif ch in "@[\\]^_":
            out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[ch])
        else:
            raise ValueError(f"Unknown character: '{part}'")
    return bytes(out)


class EscapeFilter:
    """Finds the detach sequence in keyboard input; holds back a partial match."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to send on, detach seen?)."""
        out = bytearray()
        for b in data:
            if self.keys and b == self.keys[len(self.held)]:
                self.held.append(b)
                if len(self.held) == len(self.keys):
                    self.held.clear()
                    return bytes(out), True
                continue
            if self.held:
                out += self.held
                self.held.clear()
                if self.keys and b == self.keys[0]:
                    self.held.append(b)
                    continue
            out.append(b)
        return bytes(out), False


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]


def copy_output(pieces: Iterable[bytes], tty: bool) -> None:
    """Write a logs body (or any attach output) to stdout/stderr, demuxing frames."""
    out, err = sys.stdout.fileno(), sys.stderr.fileno()
    sys.stdout.flush()
    reader = None if tty else FrameReader()
    for piece in pieces:
        if reader is None:
            _write(out, piece)
            continue
        for stream, payload in reader.feed(piece):
            _write(err if stream in (STDERR, SYSERR) else out, payload)


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, columns) of a terminal."""
    size = os.get_terminal_size(fd)
    return size.lines, size.columns


class RawTerminal:
    """`with RawTerminal(fd):` puts a tty in raw mode and always restores it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list | None = None

    def __enter__(self) -> RawTerminal:
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)


def watch_resize(resize: Callable[[int, int], None], fd: int) -> Callable[[], None]:
    """Call `resize(rows, cols)` now and on every SIGWINCH; returns an undo function."""
    import _signal as signal  # not `signal`: it imports enum (~3 ms)

    def on_winch(_sig: int = 0, _frame: object = None) -> None:
        try:
            rows, cols = terminal_size(fd)
            resize(rows, cols)
        except Exception:
            pass  # a failed resize must never kill the session

    previous = signal.signal(signal.SIGWINCH, on_winch)
    on_winch()
    return lambda: signal.signal(signal.SIGWINCH, previous)


def pump(
    conn: Hijacked,
    *,
    stdin: bool,
    tty: bool,
    detach_keys: bytes | None,
) -> bool:
    """Relay stdin to the stream and the stream to stdout/stderr until it ends.

    Returns True when the user detached (the stream stays open on the daemon side
    and the container keeps running), False when the stream reached its end.
    """
    sock = conn.sock
    out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    sys.stdout.flush()
    in_fd = sys.stdin.fileno() if stdin else -1
    reader = None if tty else FrameReader()
    escape = EscapeFilter(detach_keys) if (tty and detach_keys) else None

    def emit(data: bytes) -> None:
        if reader is None:
            _write(out_fd, data)
            return
        for stream, payload in reader.feed(data):
            _write(err_fd if stream in (STDERR, SYSERR) else out_fd, payload)

    if conn.leftover:
        emit(conn.leftover)
    watched = [sock] + ([in_fd] if in_fd >= 0 else [])
    while True:
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if sock in ready:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return False
            emit(data)
        if in_fd >= 0 and in_fd in ready:
            try:
                data = os.read(in_fd, 65536)
            except OSError:
                data = b""
            if not data:
                watched.remove(in_fd)
                in_fd = -1
                conn.close_write()
                continue
            if escape is not None:
                data, detached = escape.feed(data)
                if data:
                    sock.sendall(data)
                if detached:
                    return True
            else:
                sock.sendall(data)

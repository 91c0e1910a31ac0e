"""The shim's plumbing: a non-blocking event loop, client connections, and the
stdio relay of one process (the container's init, or one exec).

One thread, one `selectors` loop: every fd is non-blocking and owned by one
object whose ``on_event(mask)`` the loop calls. Output of a process goes to its
log (init only) and, as frames, to each attached connection; stdin from the
attached connections that asked for it goes to the process. A connection that
falls more than OUT_LIMIT bytes behind is dropped rather than slowing the
container (the log keeps everything).
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from collections.abc import Callable

from berth.shim import protocol as p

OUT_LIMIT = 8 << 20
READ_SIZE = 65536


class Loop:
    """selectors with one mask per fd, and timers."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.masks: dict[int, int] = {}
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.on_error: Callable[[], None] | None = None  # called inside `except`

    def want(self, fd: int, owner: object, read: bool | None = None, write: bool | None = None):
        old = self.masks.get(fd, 0)
        mask = old
        if read is not None:
            mask = (mask | selectors.EVENT_READ) if read else (mask & ~selectors.EVENT_READ)
        if write is not None:
            mask = (mask | selectors.EVENT_WRITE) if write else (mask & ~selectors.EVENT_WRITE)
        if mask == old:
            return
        if not old:
            self.sel.register(fd, mask, owner)
        elif not mask:
            self.sel.unregister(fd)
        else:
            self.sel.modify(fd, mask, owner)
        if mask:
            self.masks[fd] = mask
        else:
            self.masks.pop(fd, None)

    def forget(self, fd: int) -> None:
        if self.masks.pop(fd, None) is not None:
            self.sel.unregister(fd)

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + delay, fn))

    def run_once(self, max_wait: float | None = None) -> None:
        timeout = max_wait
        if self.timers:
            first = min(t for t, _ in self.timers) - time.monotonic()
            timeout = max(0.0, first if timeout is None else min(first, timeout))
        for key, mask in self.sel.select(timeout):
            if key.fd in self.masks:  # an earlier handler in this batch may have closed it
                self._guard(key.data.on_event, mask)
        now = time.monotonic()
        due = [fn for t, fn in self.timers if t <= now]
        self.timers = [(t, fn) for t, fn in self.timers if t > now]
        for fn in due:
            self._guard(fn)

    def _guard(self, fn: Callable[..., None], *args: object) -> None:
        """Run one handler; a bug in it must not take the container's shim down."""
        try:
            fn(*args)
        except Exception:
            if self.on_error is None:
                raise
            self.on_error()


class Conn:
    """One client connection: a request line in, then replies or a stream."""

    def __init__(self, loop: Loop, sock: socket.socket, on_line: Callable[[Conn, dict], None]):
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        sock.setblocking(False)
        self.on_line = on_line
        self.inbuf = b""
        self.out = bytearray()
        self.closed = False
        self.closing = False  # close once `out` is flushed
        self.relay: Relay | None = None  # set in stream mode
        self.streamed = False  # has been in stream mode (a later line is not a request)
        self.stdin = False
        self.stdout = False
        self.stderr = False
        self.stdin_once = False
        self.detach_keys = b""
        self._held = b""  # a prefix of detach_keys seen so far
        loop.want(self.fd, self, read=True)

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and not self.closed:
            self._readable()

    def _readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if self.streamed and self.relay is None:
            if not data:  # detached or ended: only the peer's close matters now
                self.close()
            return
        if self.relay is not None:
            if not data:
                self.loop.want(self.fd, self, read=False)
                self.relay.client_eof(self)
            elif self.stdin:
                self._stdin(data)
            return
        if not data:
            self.close()
            return
        self.inbuf += data
        if b"\n" in self.inbuf:
            line, _, self.inbuf = self.inbuf.partition(b"\n")
            self.loop.want(self.fd, self, read=False)  # one request per connection
            try:
                import json

                msg = json.loads(line)
                if not isinstance(msg, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self.reply_error("InvalidArgument", f"bad request line: {e}")
                return
            self.on_line(self, msg)
        elif len(self.inbuf) > p.MAX_LINE:
            self.close()

    def _stdin(self, data: bytes) -> None:
        keys = self.detach_keys
        if keys and (self._held or keys[0] in data):
            out = bytearray()
            for b in data:
                held = self._held + bytes((b,))
                if keys.startswith(held):
                    self._held = held
                    if held == keys:
                        self._held = b""
                        if out:
                            self.relay.stdin(bytes(out))
                        self.relay.detach(self)
                        return
                else:
                    out += held
                    self._held = b""
            data = bytes(out)
        if data:
            self.relay.stdin(data)

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.out += data
        if len(self.out) > OUT_LIMIT:
            self.close()
            return
        self._flush()

    def _flush(self) -> None:
        while self.out:
            try:
                n = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close()
                return
            del self.out[:n]
        self.loop.want(self.fd, self, write=bool(self.out))
        if not self.out and self.closing:
            self.close()

    def reply(self, **fields: object) -> None:
        self.send(p.reply_line(True, **fields))

    def reply_error(self, kind: str, message: str) -> None:
        self.send(p.reply_line(False, kind=kind, message=message))
        self.finish()

    def finish(self) -> None:
        """Close once everything queued has been sent."""
        self.closing = True
        if not self.out:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.forget(self.fd)
        self.sock.close()
        if self.relay is not None:
            self.relay.drop(self)


class Relay:
    """The stdio of one process: output to log and attached clients, stdin from them.

    `out_fds` maps readable fds to their stream kind; with a pty there is one
    fd, the master, for both directions. `on_drained` runs when every output
    fd has reached end of file (a pty master reports EIO once the last
    slave is closed).
    """

    def __init__(
        self,
        loop: Loop,
        out_fds: dict[int, int],
        stdin_fd: int | None,
        log: object | None = None,
        pty: int | None = None,
    ) -> None:
        self.loop = loop
        self.out_fds = dict(out_fds)
        self.stdin_fd = stdin_fd
        self.pty = pty
        self.log = log
        self.clients: list[Conn] = []
        self.inbuf = bytearray()
        self.stdin_closing = False
        self.on_drained: Callable[[], None] | None = None
        self.ended = False
        for fd in self.out_fds:
            os.set_blocking(fd, False)
            loop.want(fd, self, read=True)
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)

    # ---- clients ----

    def add(self, conn: Conn) -> None:
        conn.relay = self
        conn.streamed = True
        self.clients.append(conn)
        self.loop.want(conn.fd, conn, read=True)

    def drop(self, conn: Conn) -> None:
        if conn in self.clients:
            self.clients.remove(conn)

    def detach(self, conn: Conn) -> None:
        conn.send(p.frame(p.END, b'{"reason":"detached","exit_code":null}'))
        self.drop(conn)
        conn.relay = None
        conn.finish()

    def client_eof(self, conn: Conn) -> None:
        if conn.stdin and conn.stdin_once:
            self.close_stdin()

    def end(self, reason: str, exit_code: int | None) -> None:
        """Send END to every client and let them go."""
        self.ended = True
        code = "null" if exit_code is None else str(int(exit_code))
        payload = f'{{"reason":"{reason}","exit_code":{code}}}'.encode()
        for conn in list(self.clients):
            conn.send(p.frame(p.END, payload))
            conn.relay = None
            conn.finish()
        self.clients.clear()

    # ---- stdin ----

    def stdin(self, data: bytes) -> None:
        if self.stdin_fd is None or self.stdin_closing:
            return
        self.inbuf += data
        self._write_stdin()

    def close_stdin(self) -> None:
        if self.stdin_fd is None:
            return
        self.stdin_closing = True
        if self.pty is not None:
            self.inbuf += b"\x04"  # a tty has no end of file but the EOF character
            self.stdin_closing = False
        self._write_stdin()

    def _write_stdin(self) -> None:
        fd = self.stdin_fd
        if fd is None:
            return
        while self.inbuf:
            try:
                n = os.write(fd, self.inbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # the reader is gone
                self.inbuf.clear()
                break
            del self.inbuf[:n]
        if self.pty is None:
            self.loop.want(fd, self, write=bool(self.inbuf))
            if not self.inbuf and self.stdin_closing:
                self.loop.forget(fd)
                os.close(fd)
                self.stdin_fd = None
        else:
            self.loop.want(fd, self, write=bool(self.inbuf))

    # ---- output ----

    def on_event(self, mask: int) -> None:
        # The loop passes us events of the output fds and of the stdin fd; with a
        # pty they are the same fd, so look at both bits.
        if mask & selectors.EVENT_WRITE:
            self._write_stdin()
        if mask & selectors.EVENT_READ:
            for fd in list(self.out_fds):
                self._read(fd)

    def _read(self, fd: int) -> None:
        kind = self.out_fds.get(fd)
        if kind is None:
            return
        try:
            data = os.read(fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._eof(fd)
            return
        self.deliver(kind, data)

    def deliver(self, kind: int, data: bytes) -> None:
        if self.log is not None:
            try:
                self.log.write("stdout" if kind == p.STDOUT else "stderr", data)
            except OSError:  # a full disk loses log lines, never the container's output
                pass
        if self.clients:
            framed = p.frame(kind, data)
            for conn in list(self.clients):
                if (conn.stdout and kind == p.STDOUT) or (conn.stderr and kind == p.STDERR):
                    conn.send(framed)

    def _eof(self, fd: int) -> None:
        del self.out_fds[fd]
        if fd == self.pty:
            self.loop.want(fd, self, read=False)
        else:
            self.loop.forget(fd)
            os.close(fd)
        if not self.out_fds and self.on_drained is not None:
            cb, self.on_drained = self.on_drained, None
            cb()

    def drain(self, deadline: float, then: Callable[[], None]) -> None:
        """Read what is left until end of file or `deadline` seconds, then call `then`."""
        done = False

        def finish() -> None:
            nonlocal done
            if done:
                return
            done = True
            for fd in list(self.out_fds):
                self._read(fd)  # whatever is buffered right now
            then()

        if not self.out_fds:
            finish()
            return
        self.on_drained = finish
        self.loop.later(deadline, finish)

    def close(self) -> None:
        """Release every fd (the process is gone and its output drained)."""
        for fd in list(self.out_fds):
            self.loop.forget(fd)
            if fd != self.pty:
                os.close(fd)
        self.out_fds.clear()
        if self.stdin_fd is not None and self.stdin_fd != self.pty:
            self.loop.forget(self.stdin_fd)
            os.close(self.stdin_fd)
        if self.pty is not None:
            self.loop.forget(self.pty)
            os.close(self.pty)
            self.pty = None
        self.stdin_fd = None
        if self.log is not None:
            self.log.close()

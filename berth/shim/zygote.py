"""The shim zygote: a pre-loaded process that forks one shim per container.

Why: a freshly executed Python shim costs ~20-40 ms to start and ~5-8 MB of
private memory. Forked from a process that has already imported everything a
shim needs (and frozen its objects out of the garbage collector's reach, so
their pages are not written again), a shim starts in about a millisecond and
shares most of its pages with the zygote and its siblings; its proportional set
size (PSS) is then mostly the little it allocates itself. The zygote also loads
berth-runc's modules, so that a shim can call berth-runc in a forked child
instead of a fresh interpreter (`berth.shim.ociruntime`).

Lifecycle: `berth.shim.client` starts it on first use for a socket dir (under a
file lock), in its own session: the launcher binds ``zygote.sock``, forks the
zygote proper, which prints ``ready``, and exits, so nobody has to reap it but
init. The daemon's death does not touch it; shims it forked survive its own
death too (they are re-parented to init). When the shim's or the runtime's code
on disk changes (an upgrade), it refuses the next spawn as stale and exits; the
client starts a fresh one.

Protocol on ``zygote.sock``: one request line per connection, as on a shim:
``{"op": "spawn", <SpawnConfig>}`` (the forked shim answers on the same
connection), ``{"op": "ping"}`` -> ``{"ok": true, "pid": N}``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import selectors
import signal
import socket
import sys

import berth.linux.process  # noqa: F401 - pre-loaded (ctypes) for the shims
from berth.shim import protocol as p
from berth.shim import server
from berth.shim.ociruntime import preload_runtime, runtime_preloaded
from berth.shim.server import run_shim
from berth.shim.sockets import listen


def code_stamp() -> tuple[int, ...]:
    """The mtimes of the shim's modules: changes when berth is upgraded in place."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with contextlib.suppress(OSError):
                stamps.append(os.stat(os.path.join(here, name)).st_mtime_ns)
    return tuple(stamps)


def run_zygote(socket_dir: str) -> int:
    path = os.path.join(socket_dir, p.ZYGOTE_SOCKET_NAME)
    listener, _ = listen(path)
    if os.fork() != 0:
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    os.write(1, b"ready\n")
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    with contextlib.suppress(OSError):
        os.setsid()
    os.chdir("/")
    stamp = code_stamp()

    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(r, selectors.EVENT_READ)
    preload_runtime()  # berth-runc calls run in the shims' forked children: nothing to import
    gc.collect()
    gc.freeze()  # the shims we fork share these objects' pages; keep them untouched

    while True:
        for key, _ in sel.select():
            if key.fileobj == r:
                with contextlib.suppress(BlockingIOError):
                    while os.read(r, 512):
                        pass
                _reap()
                continue
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            action = _handle(conn, stamp)
            if action is False:
                _retire(listener, path)
                return 0
            if isinstance(action, p.SpawnConfig):
                _fork_shim(action, conn, [sel, listener, r, w])


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _retire(listener: socket.socket, path: str) -> None:
    """Stop serving: unlink the socket first, so that new clients start a new zygote,
    then answer the connections already queued as stale (closing the listener with
    them queued would reset them, and their clients could not tell why)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener.setblocking(False)
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            break
        _handle(conn, ())
    listener.close()


def _handle(conn: socket.socket, stamp: tuple[int, ...]) -> p.SpawnConfig | bool:
    """Read one request and answer what the zygote answers itself: a SpawnConfig to
    fork a shim for, True to go on, False when the zygote must exit."""
    try:
        conn.settimeout(10)
        line = p.read_line_sock(conn)
        msg = json.loads(line)
        op = msg.get("op") if isinstance(msg, dict) else None
        if op == "spawn":
            if code_stamp() != stamp or not runtime_preloaded():
                conn.sendall(p.reply_line(False, kind="Unavailable", message="stale zygote"))
                conn.close()
                return False
            return p.from_fields(p.SpawnConfig, msg)
        if op == "ping":
            conn.sendall(p.reply_line(True, pid=os.getpid()))
        else:
            conn.sendall(p.reply_line(False, kind="InvalidArgument", message=f"bad op {op!r}"))
    except (OSError, ValueError, TypeError, EOFError) as e:
        with contextlib.suppress(OSError):
            conn.sendall(p.reply_line(False, kind="InvalidArgument", message=str(e)))
    conn.close()
    return True


def _fork_shim(cfg: p.SpawnConfig, conn: socket.socket, keep_out: list) -> None:
    if os.fork() != 0:
        conn.close()
        return
    # The shim: drop the zygote's fds and signal plumbing, then run.
    try:
        signal.set_wakeup_fd(-1)
        for obj in keep_out:
            if isinstance(obj, int):
                os.close(obj)
            else:
                obj.close()
        conn.settimeout(None)
        run_shim(cfg, conn)
    finally:
        os._exit(1)


def main() -> int:  # pragma: no cover - `python -m berth.shim.zygote DIR`
    return run_zygote(sys.argv[1])


_ = server  # the whole server module is loaded before the first fork

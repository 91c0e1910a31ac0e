"""Joining a hijacked Engine API connection to a shim's attach or exec stream.

The shim sends Docker's 8-byte frames (1 stdout, 2 stderr) and ends with an
END frame (3) carrying why the stream ended and, for an exec, the exit code.
Without a tty the frames go to the client unchanged (multiplexed stream);
with a tty only the payloads (raw stream). What the client sends is stdin,
copied to the shim; the client's half-close becomes the shim's half-close.
"""

from __future__ import annotations

import logging
import struct
import threading
from typing import Any

from berth.daemon.state import Status
from berth.errors import Conflict, NotFound

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">BxxxI")


def pump(stream: Any, conn: Any, multiplex: bool, stdin: bool) -> Any:
    """Copy the shim's frames to the client until the END frame (returned: the
    shim's `End`, or None when a side closed); stdin flows the other way."""
    if stdin:
        t = threading.Thread(target=_copy_stdin, args=(conn, stream), daemon=True)
        t.start()
    try:
        for kind, payload in stream.frames():
            try:
                conn.write(_HEADER.pack(kind, len(payload)) + payload if multiplex else payload)
            except OSError:
                return None
        return stream.end
    except OSError:
        return None
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _copy_stdin(conn: Any, stream: Any) -> None:
    try:
        while True:
            data = conn.read(65536)
            if not data:
                break
            stream.write(data)
    except OSError:
        pass
    stream.close_stdin()


class PendingAttach:
    """An attach that arrived before the container started (docker run's order)."""

    def __init__(self, stdin: bool, stdout: bool, stderr: bool, detach_keys: str | None) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.detach_keys = detach_keys
        self.ready = threading.Event()
        self.stream: Any = None
        self.error: BaseException | None = None
        self.stdin_once = False


def attach_session(
    svc: Any, c: Any, *, stdin: bool, stdout: bool, stderr: bool, stream: bool, logs: bool,
    detach_keys: str | None, multiplex: bool,
):  # fmt: skip
    """The function the API runs on the hijacked connection.

    The attach is registered here, before the API answers 101: docker sends
    `start` as soon as it has that answer, and the start must find the attach.
    """
    cid = c.id
    ticket = _register(svc, cid, stdin, stdout, stderr, detach_keys) if stream else None

    def session(conn: Any) -> None:
        if logs:
            for chunk in svc.logs(
                cid, follow=False, since=None, until=None, tail=-1, timestamps=False,
                stdout=stdout, stderr=stderr,
            ):  # fmt: skip
                conn.write(chunk)
        if ticket is None:
            return
        shim_stream = _await(svc, cid, ticket)
        if shim_stream is None:
            return
        try:
            svc._emit(svc.store.get(cid), "attach")
        except NotFound:
            pass
        end = pump(shim_stream, conn, multiplex, stdin)
        if end is not None and end.reason == "detached":
            try:
                svc._emit(svc.store.get(cid), "detach")
            except NotFound:
                pass

    return session


def _register(
    svc: Any, cid: str, stdin: bool, stdout: bool, stderr: bool, detach_keys: str | None
) -> PendingAttach:
    """Attach to the shim now, or queue for the container's next start."""
    pending = PendingAttach(stdin, stdout, stderr, detach_keys)
    with svc._lock(cid):
        cur = svc.store.get(cid)
        # as Docker: the attached client's EOF closes the container's stdin only
        # without a tty (with one, ^D is in the stream, and a detach is no EOF)
        pending.stdin_once = bool(cur.config.get("StdinOnce")) and not cur.config.get("Tty")
        if cur.state.status in (Status.RUNNING, Status.PAUSED):
            pending.stream = svc.tasks.attach(
                cid, stdin, stdout, stderr, detach_keys, pending.stdin_once
            )
            pending.ready.set()
            return pending
        if cur.state.status in (Status.REMOVING, Status.DEAD):
            raise Conflict(f"container {cid} is being removed")
        svc._pending_attach.setdefault(cid, []).append(pending)
    return pending


def _await(svc: Any, cid: str, pending: PendingAttach) -> Any:
    while not pending.ready.wait(1.0):
        try:
            svc.store.get(cid)
        except NotFound:
            return None
    if pending.error is not None:
        return None
    return pending.stream


def run_exec(execs: Any, e: Any, c: Any, conn: Any, multiplex: bool) -> None:
    """Start an exec in the container's shim; with `conn`, stream until it ends."""
    svc = execs.containers
    process = execs.process_of(e, c)
    e.running = True
    try:
        handle = svc.tasks.exec(
            c.id, e.id, process, tty=e.tty, stdin=e.attach_stdin and conn is not None,
            attach=conn is not None, detach_keys=e.detach_keys or None,
        )  # fmt: skip
    except BaseException:
        e.running = False
        e.exit_code = 126
        e.done.set()
        raise
    e.pid = handle.pid
    if conn is None:
        threading.Thread(target=_watch_detached, args=(execs, e, c.id), daemon=True).start()
        return
    end = pump(handle.stream, conn, multiplex, e.attach_stdin)
    code = end.exit_code if end is not None else None
    if code is None:
        code = svc.tasks.exec_wait(c.id, e.id)
    execs.finished(e, int(code if code is not None else 0))


def _watch_detached(execs: Any, e: Any, cid: str) -> None:
    try:
        code = execs.containers.tasks.exec_wait(cid, e.id)
    except Exception:
        code = None
    execs.finished(e, int(code) if code is not None else 0)

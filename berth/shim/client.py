"""The daemon's side of berth-shim: start shims, find them again, talk to them.

A shim lives in ``<socket_dir>/<container id>/`` (its *state dir*): ``shim.sock``
(requests), ``shim.pid``, ``init.pid`` (the container's pid, from the runtime),
``exit.json`` (the exit record, written atomically before anyone learns of the
exit) and ``runtime.log``. The wire protocol is described in
`berth.shim.protocol`; this module turns it into calls:

    shim = spawn(ShimSpec(id=..., bundle=..., runtime=..., runtime_root=...,
                          socket_dir=..., tty=..., stdin_open=..., log_path=...))
    stream = shim.attach(stdin=True)          # frames out, raw stdin in
    shim.resize(40, 120); shim.kill(15); rec = shim.wait()

After a daemon restart ``connect(state_dir(socket_dir, id))`` returns the same
handle. If the shim is gone, ``probe`` says what is left (the shim's and the
container's pids and whether they live, the exit record); the daemon decides.

Every method opens its own connection, so one handle may be used from many
threads at once. Failures raise `berth.errors` kinds: NotFound (no such exec),
Conflict (wrong state), Unavailable (the shim does not answer), InternalError.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from berth import errors
from berth.shim import protocol as p
from berth.shim.protocol import (
    DEFAULT_DETACH_KEYS,
    End,
    ExecState,
    ExitRecord,
    ShimState,
    SpawnConfig,
)

__all__ = [
    "AttachStream",
    "End",
    "ExecState",
    "ExitRecord",
    "Shim",
    "ShimFacts",
    "ShimSpec",
    "ShimState",
    "connect",
    "exit_record",
    "probe",
    "remove_state",
    "spawn",
    "state_dir",
    "stop_zygote",
    "wait_gone",
]

_SOCK_PATH_MAX = 100  # sun_path is 108 bytes; longer paths go through /proc/self/fd


@dataclass(frozen=True, slots=True)
class ShimSpec:
    """What the daemon knows when it starts a container."""

    id: str
    bundle: Path
    runtime: str  # path of the OCI runtime executable (berth-runc, runc, crun)
    runtime_root: Path
    socket_dir: Path  # the shims' directory under the exec root
    tty: bool = False
    stdin_open: bool = False
    log_path: Path | None = None
    log_max_size: int = 0  # bytes, 0 = unlimited
    log_max_file: int = 1
    start: bool = True  # False: only create; call Shim.start() after attaching


@dataclass(frozen=True, slots=True)
class ShimFacts:
    """What is left of a shim, for a daemon deciding what a container's state is."""

    state_dir: Path
    shim_pid: int | None
    shim_alive: bool
    answers: bool  # the socket accepts a request
    pid: int | None  # the container's init
    pid_alive: bool
    exit: ExitRecord | None


def state_dir(socket_dir: Path, cid: str) -> Path:
    """The state directory of the shim of container `cid`."""
    if not cid or "/" in cid or cid in (".", ".."):
        raise errors.InvalidArgument(f"invalid container id for a shim: {cid!r}")
    return Path(socket_dir) / cid


# ---- connections ------------------------------------------------------------------------


def _connect_unix(path: Path, timeout: float | None = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        if len(os.fsencode(path)) <= _SOCK_PATH_MAX:
            sock.connect(os.fspath(path))
        else:
            dfd = os.open(path.parent, os.O_PATH | os.O_CLOEXEC)
            try:
                sock.connect(f"/proc/self/fd/{dfd}/{path.name}")
            finally:
                os.close(dfd)
    except BaseException:
        sock.close()
        raise
    return sock


class _LineReader:
    """Reads reply lines from a socket, keeping what came after them (stream bytes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise errors.Unavailable("the shim closed the connection without a reply")
            self.buf += chunk
            if len(self.buf) > p.MAX_LINE:
                raise errors.InternalError("the shim's reply is too long")
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)


def _raise_for(reply: dict, what: str) -> dict:
    if reply.get("ok"):
        return reply
    kind = getattr(errors, str(reply.get("kind")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.BerthError)):
        kind = errors.InternalError
    raise kind(reply.get("message") or f"{what} failed")


# ---- streams ----------------------------------------------------------------------------


class AttachStream:
    """One attached client: frames from the shim, raw stdin to it.

    `read_frame()` returns ``(kind, payload)`` for STDOUT/STDERR frames and None
    after the END frame (then `end` says why) or when the connection closed.
    """

    def __init__(self, sock: socket.socket, buffered: bytes, reply: dict) -> None:
        self.sock = sock
        self._buf = buffered
        self.reply = reply
        self.end: End | None = None
        sock.settimeout(None)

    def fileno(self) -> int:
        return self.sock.fileno()

    def _fill(self, n: int) -> bool:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                return False
            self._buf += chunk
        return True

    def read_frame(self) -> tuple[int, bytes] | None:
        if self.end is not None:
            return None
        if not self._fill(p.HEADER.size):
            return None
        kind, size = p.HEADER.unpack_from(self._buf)
        if not self._fill(p.HEADER.size + size):
            return None
        payload = self._buf[p.HEADER.size : p.HEADER.size + size]
        self._buf = self._buf[p.HEADER.size + size :]
        if kind == p.END:
            self.end = p.from_fields(End, json.loads(payload))
            return None
        return kind, payload

    def frames(self):
        while (f := self.read_frame()) is not None:
            yield f

    def read_all(self) -> tuple[bytes, bytes]:
        """Everything until the end: (stdout, stderr). Handy for tests and `exec` output."""
        out, err = [], []
        for kind, payload in self.frames():
            (out if kind == p.STDOUT else err).append(payload)
        return b"".join(out), b"".join(err)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_stdin(self) -> None:
        """Half-close: the shim sees stdin's end of file (closes the container's stdin
        when the attach asked for `stdin_once`)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AttachStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- the handle -------------------------------------------------------------------------


class Shim:
    """A handle on one running shim (cheap: a path and two pids)."""

    def __init__(self, state_dir: Path, shim_pid: int, pid: int) -> None:
        self.state_dir = Path(state_dir)
        self.socket_path = self.state_dir / p.SOCKET_NAME
        self.shim_pid = shim_pid
        self.pid = pid

    def __repr__(self) -> str:
        return f"Shim({self.state_dir.name[:12]}, shim_pid={self.shim_pid}, pid={self.pid})"

    def _open(self, op: str, message: object | None = None, timeout: float | None = 30.0, **extra):
        try:
            sock = _connect_unix(self.socket_path, timeout)
        except OSError as e:
            raise errors.Unavailable(
                f"shim of container {self.state_dir.name} does not answer: {e.strerror or e}"
            ) from e
        try:
            sock.sendall(p.to_line(op, message, **extra))
            reader = _LineReader(sock)
            reply = _raise_for(reader.line(), f"{op} on container {self.state_dir.name}")
        except TimeoutError as e:
            sock.close()
            raise errors.Unavailable(
                f"shim of container {self.state_dir.name}: {op} timed out"
            ) from e
        except OSError as e:
            sock.close()
            raise errors.Unavailable(
                f"shim of container {self.state_dir.name}: {op}: {e.strerror or e}"
            ) from e
        except BaseException:
            sock.close()
            raise
        return sock, reader, reply

    def _call(self, op: str, message: object | None = None, timeout: float | None = 30.0, **extra):
        sock, _, reply = self._open(op, message, timeout, **extra)
        sock.close()
        return reply

    def start(self) -> int:
        """Run the runtime's `start` (after a spawn with start=False); the container's pid."""
        self.pid = int(self._call("start")["pid"])
        return self.pid

    def attach(
        self,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        detach_keys: bytes = DEFAULT_DETACH_KEYS,
        stdin_once: bool = False,
    ) -> AttachStream:
        """Attach to the container's stdio. Output from now on; the log has the past."""
        req = p.AttachRequest(stdin, stdout, stderr, detach_keys.decode("latin-1"), stdin_once)
        sock, reader, reply = self._open("attach", req)
        return AttachStream(sock, reader.buf, reply)

    def resize(self, height: int, width: int, exec_id: str | None = None) -> None:
        """Set the pty's window size (the container's, or an exec's with `exec_id`)."""
        self._call("resize", p.ResizeRequest(int(height), int(width), exec_id))

    def kill(self, signum: int, all_processes: bool = False) -> None:
        """Signal the container through the runtime (`kill [--all] ID SIG`)."""
        self._call("kill", p.KillRequest(int(signum), bool(all_processes)))

    def pause(self) -> None:
        self._call("pause")

    def resume(self) -> None:
        self._call("resume")

    def exec(
        self,
        exec_id: str,
        process: dict,
        tty: bool = False,
        stdin: bool = False,
        detach: bool = False,
        detach_keys: bytes = DEFAULT_DETACH_KEYS,
    ) -> AttachStream | ExecState:
        """Run `process` in the container (`RUNTIME exec --process ... -d`).

        Attached (the default): an AttachStream whose END frame carries the exit
        code; `reply["pid"]` is the process's pid. Detached: its ExecState now;
        ask `exec_state(exec_id)` later for the exit code.
        """
        req = p.ExecRequest(exec_id, process, tty, stdin, not detach, detach_keys.decode("latin-1"))
        sock, reader, reply = self._open("exec", req, timeout=60.0)
        if detach:
            sock.close()
            return p.from_fields(ExecState, reply)
        return AttachStream(sock, reader.buf, reply)

    def exec_state(self, exec_id: str) -> ExecState:
        return p.from_fields(ExecState, self._call("exec_state", p.ExecRef(exec_id)))

    def exec_wait(self, exec_id: str, timeout: float | None = None) -> ExecState:
        """Block until the exec's process has exited (and its output is drained)."""
        return p.from_fields(
            ExecState, self._call("exec_wait", p.ExecRef(exec_id), timeout=timeout)
        )

    def close_stdin(self) -> None:
        """Close the container's stdin (pipes) or send it end-of-file (pty)."""
        self._call("close_stdin")

    def state(self) -> ShimState:
        return p.state_from(self._call("state"))

    def wait(self, timeout: float | None = None) -> ExitRecord:
        """Block until the container exits; its exit record.

        Works after the shim has gone too: the record is on disk. Raises
        Unavailable when neither the shim answers nor a record exists (the shim
        was killed: see `probe`).
        """
        try:
            reply = self._call("wait", timeout=timeout)
        except errors.Unavailable:
            rec = exit_record(self.state_dir)
            if rec is None:
                raise
            return rec
        rec = p.exit_from(reply.get("exit"))
        if rec is None:  # pragma: no cover - the shim always sends one
            raise errors.InternalError(f"shim of {self.state_dir.name} sent no exit record")
        return rec

    def shutdown(self) -> None:
        """Ask a shim whose container has exited to finish now (it runs `delete` and
        exits); on a running container it refuses with Conflict."""
        with contextlib.suppress(errors.Unavailable):
            self._call("shutdown")


# ---- spawning ---------------------------------------------------------------------------


def _config(spec: ShimSpec) -> SpawnConfig:
    # The shim works from "/": every path it gets is absolute.
    sdir = state_dir(Path(spec.socket_dir).absolute(), spec.id)
    runtime = os.path.abspath(spec.runtime) if os.sep in spec.runtime else spec.runtime
    return SpawnConfig(
        id=spec.id,
        bundle=os.path.abspath(spec.bundle),
        runtime=shutil.which(runtime) or runtime,
        runtime_root=os.path.abspath(spec.runtime_root),
        state_dir=os.fspath(sdir),
        tty=spec.tty,
        stdin_open=spec.stdin_open,
        log_path=os.path.abspath(spec.log_path) if spec.log_path else "",
        log_max_size=spec.log_max_size,
        log_max_file=max(1, spec.log_max_file),
        start=spec.start,
    )


def _shim_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "berth.shim.main", *args]


def _await_spawn(sock: socket.socket, cfg: SpawnConfig, timeout: float) -> Shim:
    sock.settimeout(timeout)
    try:
        reply = _LineReader(sock).line()
    except (TimeoutError, OSError) as e:
        raise errors.Unavailable(f"shim for container {cfg.id} did not report: {e}") from e
    finally:
        sock.close()
    _raise_for(reply, f"starting container {cfg.id}")
    started = p.from_fields(p.SpawnReply, reply)
    return Shim(Path(cfg.state_dir), int(started.shim_pid), int(started.pid))


def spawn(spec: ShimSpec, *, zygote: bool = True, timeout: float = 60.0) -> Shim:
    """Start a shim for `spec.id`; it creates (and starts) the container.

    With `zygote` (the default) the shim is forked by the per-socket-dir zygote
    (started on first use, detached from the caller), which keeps every shim's
    memory shared and its start fast; otherwise `berth-shim serve` is executed.
    Either way the shim is in its own session and outlives the caller.
    Raises InternalError with the runtime's message when create/start fails.
    """
    cfg = _config(spec)
    os.makedirs(spec.socket_dir, mode=0o711, exist_ok=True)
    line = p.to_line("spawn", cfg)
    if zygote:
        for attempt in range(3):
            sock = _zygote_connection(Path(spec.socket_dir))
            sock.sendall(line)
            try:
                return _await_spawn(sock, cfg, timeout)
            except errors.Unavailable as e:
                if "stale zygote" not in str(e) or attempt == 2:
                    raise
        raise AssertionError("unreachable")
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with child:
        proc = subprocess.Popen(
            _shim_argv("serve", "--fd", str(child.fileno())),
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    parent.sendall(line)
    try:
        return _await_spawn(parent, cfg, timeout)
    finally:
        proc.wait()  # the launcher exits as soon as the shim has daemonized


def connect(path: Path) -> Shim:
    """A handle on the running shim whose state dir (or socket) is `path`."""
    path = Path(path)
    sdir = path.parent if path.name == p.SOCKET_NAME else path
    shim = Shim(sdir, 0, 0)
    st = shim.state()
    shim.shim_pid, shim.pid = st.shim_pid, st.pid
    return shim


# ---- the zygote -------------------------------------------------------------------------


def _zygote_connection(socket_dir: Path) -> socket.socket:
    path = socket_dir / p.ZYGOTE_SOCKET_NAME
    with contextlib.suppress(OSError):
        return _connect_unix(path)
    lock_fd = os.open(socket_dir / "zygote.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):
            return _connect_unix(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        proc = subprocess.Popen(
            _shim_argv("zygote", "--socket-dir", os.fspath(socket_dir)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        ready = proc.stdout.read() if proc.stdout else b""
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if b"ready" not in ready:
            raise errors.Unavailable(f"berth-shim zygote in {socket_dir} did not start")
        return _connect_unix(path)
    finally:
        os.close(lock_fd)


def zygote_pid(socket_dir: Path) -> int | None:
    """The pid of the zygote serving `socket_dir`, when one answers."""
    try:
        sock = _connect_unix(Path(socket_dir) / p.ZYGOTE_SOCKET_NAME, 5.0)
    except OSError:
        return None
    with sock:
        sock.sendall(p.to_line("ping"))
        return int(_LineReader(sock).line()["pid"])


def stop_zygote(socket_dir: Path) -> None:
    """Stop the zygote of `socket_dir` (shims it forked keep running)."""
    pid = zygote_pid(socket_dir)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    wait_gone(pid, 10.0)


def wait_gone(pid: int, timeout: float) -> bool:
    """Block until process `pid` (a shim, the zygote: not our child) has exited, at
    most `timeout` seconds; whether it has. A pidfd turns readable at the exit, so
    nothing polls (where pidfds are missing, poll)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return not _alive(pid)
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


# ---- facts after the fact ---------------------------------------------------------------


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    """Whether `pid` runs (a zombie counts as gone)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X")


def exit_record(sdir: Path) -> ExitRecord | None:
    """The container's exit record when the shim has written one."""
    return p.read_exit_record(os.fspath(Path(sdir) / p.EXIT_NAME))


def probe(sdir: Path) -> ShimFacts:
    """What is true of the shim at `sdir` now, without asking it to do anything."""
    sdir = Path(sdir)
    shim_pid = _read_pid(sdir / p.SHIM_PID_NAME)
    pid = _read_pid(sdir / p.INIT_PID_NAME)
    answers = False
    if _alive(shim_pid):
        try:
            Shim(sdir, shim_pid or 0, pid or 0)._call("ping", timeout=5.0)
            answers = True
        except errors.BerthError:
            answers = False
    return ShimFacts(
        state_dir=sdir,
        shim_pid=shim_pid,
        shim_alive=_alive(shim_pid),
        answers=answers,
        pid=pid,
        pid_alive=_alive(pid),
        exit=exit_record(sdir),
    )


def remove_state(sdir: Path) -> None:
    """Remove a finished shim's directory (refuses while its shim still runs)."""
    sdir = Path(sdir)
    if _alive(_read_pid(sdir / p.SHIM_PID_NAME)):
        raise errors.Conflict(f"shim of container {sdir.name} is still running")
    try:
        shutil.rmtree(sdir)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise

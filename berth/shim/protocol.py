"""The shim's wire protocol: typed messages, frames, and the on-disk names.

Both sides import this module, so it stays small and imports only the standard
library (it is loaded in every shim, and a shim's memory is a goal).

Connections (unix stream sockets)
---------------------------------
Every operation is one connection to ``<state_dir>/shim.sock``:

1. the client writes ONE request line: a JSON object, ``{"op": "<name>", ...}``
   followed by ``\\n`` (the fields are those of the request dataclasses below);
2. the shim answers ONE reply line: ``{"ok": true, ...}`` with the reply's fields,
   or ``{"ok": false, "kind": "<berth.errors class>", "message": "..."}``;
3. for ``attach`` and an attached ``exec``, the connection then becomes a stream:
   the shim sends frames, the client sends raw stdin bytes; the client's
   half-close (``shutdown(SHUT_WR)``) is stdin's end of file.

A frame is Docker's 8-byte multiplexing header plus a payload:
``[kind, 0, 0, 0, size (uint32 big-endian)] + payload``. Kinds 1 (stdout) and 2
(stderr) are exactly Docker's, so without a tty the daemon can forward them to a
hijacked Engine API stream unchanged, and with a tty it forwards the payloads
only (raw stream). Kind 3 (END) is the shim's last frame on a stream: a JSON
payload ``{"reason": "exited"|"detached"|"shutdown", "exit_code": int|null}``;
the daemon consumes it and never forwards it.

Operations: ping, state, start, attach, resize, kill, pause, resume,
close_stdin, exec, exec_state, exec_wait, wait, shutdown (see
`berth.shim.client.Shim` for each one's fields and reply).

Spawning
--------
A shim is started with one ``spawn`` line (a ``SpawnConfig``) written on a
socket it inherits: fd 3 of ``berth-shim serve --fd 3`` (direct), or the
connection a client made to the zygote (``berth-shim zygote``), which forks a
shim per request and hands it that connection. The shim answers on it with one
reply line (``SpawnReply``: shim pid and container pid, or an error) once the
runtime's ``create`` (and ``start`` unless ``start`` is false) has returned.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict, dataclass, field, fields

VERSION = 1  # in `ping` and `state` replies; bumped when a message changes incompatibly

STDIN = 0
STDOUT = 1
STDERR = 2
END = 3

HEADER = struct.Struct(">BxxxI")
MAX_LINE = 1 << 20
DEFAULT_DETACH_KEYS = b"\x10\x11"  # Ctrl-P Ctrl-Q

# Names inside a shim's state directory (<socket_dir>/<container id>/).
SOCKET_NAME = "shim.sock"
SHIM_PID_NAME = "shim.pid"
INIT_PID_NAME = "init.pid"
EXIT_NAME = "exit.json"
RUNTIME_LOG_NAME = "runtime.log"
ZYGOTE_SOCKET_NAME = "zygote.sock"


def frame(kind: int, payload: bytes) -> bytes:
    """One frame: the 8-byte header then the payload."""
    return HEADER.pack(kind, len(payload)) + payload


# ---- messages --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpawnConfig:
    """Everything a shim needs, sent once when it is started."""

    id: str
    bundle: str
    runtime: str  # path of a runc-compatible executable
    runtime_root: str
    state_dir: str  # this shim's directory: socket, pid files, exit record
    tty: bool = False
    stdin_open: bool = False
    log_path: str = ""  # Docker json-file log; "" writes no log
    log_max_size: int = 0  # bytes; 0 = unlimited
    log_max_file: int = 1
    start: bool = True  # False: only `create`; the daemon sends `start` after attaching


@dataclass(frozen=True, slots=True)
class SpawnReply:
    """The shim's answer once the container exists: its own pid and the container's."""

    shim_pid: int
    pid: int  # the container's init, as the host sees it


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """How the container ended; written to exit.json before anyone is told."""

    exit_code: int
    finished_ns: int  # time.time_ns() when the shim reaped it
    oom_killed: bool = False
    signal: int = 0  # the killing signal when it died of one (exit_code = 128 + signal)


@dataclass(frozen=True, slots=True)
class AttachRequest:
    """Which of the container's streams a client wants, and its detach keys."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    detach_keys: str = DEFAULT_DETACH_KEYS.decode("latin-1")  # bytes as latin-1; "" = none
    stdin_once: bool = False  # the client's EOF closes the container's stdin


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """An exec: the OCI process to run, its stdio, attached or detached."""

    exec_id: str
    process: dict  # an OCI runtime-spec `process` object
    tty: bool = False
    stdin: bool = False
    attach: bool = True  # False: detached (`exec -d`); the reply carries the pid
    detach_keys: str = DEFAULT_DETACH_KEYS.decode("latin-1")


@dataclass(frozen=True, slots=True)
class ExecRef:
    """exec_state and exec_wait name an exec."""

    exec_id: str


@dataclass(frozen=True, slots=True)
class ResizeRequest:
    """A pty's new window size (the container's, or an exec's)."""

    height: int
    width: int
    exec_id: str | None = None  # None: the container's own pty


@dataclass(frozen=True, slots=True)
class KillRequest:
    """A signal for the container's init (or, with `all`, every process)."""

    signal: int
    all: bool = False  # every process of the container (`kill --all`)


@dataclass(frozen=True, slots=True)
class ExecState:
    """Where an exec is: its pid, whether it runs, its exit code once known."""

    exec_id: str
    pid: int
    running: bool
    exit_code: int | None = None


@dataclass(frozen=True, slots=True)
class ShimState:
    """Everything a daemon needs to know about a shim after reconnecting."""

    id: str
    shim_pid: int
    pid: int
    status: str  # "created", "running", "paused" or "stopped"
    tty: bool
    stdin_open: bool
    attached: int  # clients attached now
    exit: ExitRecord | None = None
    execs: list[ExecState] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class End:
    """The END frame's payload: why a stream ends."""

    reason: str  # "exited", "detached" or "shutdown"
    exit_code: int | None = None


def to_line(op: str, message: object | None = None, **extra: object) -> bytes:
    body: dict = {"op": op}
    if message is not None:
        body.update(asdict(message))  # type: ignore[call-overload]
    body.update(extra)
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def reply_line(ok: bool = True, **fields_: object) -> bytes:
    return json.dumps({"ok": ok, **fields_}, separators=(",", ":")).encode() + b"\n"


def from_fields(cls: type, data: dict):
    """Build a message dataclass from a decoded line, ignoring unknown keys."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def exit_from(data: dict | None) -> ExitRecord | None:
    return None if data is None else from_fields(ExitRecord, data)


def state_from(data: dict) -> ShimState:
    values = {f.name: data.get(f.name) for f in fields(ShimState)}
    values["exit"] = exit_from(data.get("exit"))
    values["execs"] = [from_fields(ExecState, e) for e in data.get("execs") or []]
    return ShimState(**values)


class BadRequest(Exception):
    """A request the shim refuses: `kind` names the berth.errors class the client raises."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def exit_code(status: int) -> tuple[int, int]:
    """(exit code as Docker reports it, killing signal or 0)."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return 128 - code, -code
    return code, 0


def atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


# ---- reading lines from a raw fd ----------------------------------------------------------


def read_line(fd: int, limit: int = MAX_LINE) -> tuple[bytes, bytes]:
    """Read up to the first newline from a blocking fd; (line, bytes read past it)."""
    buf = b""
    while b"\n" not in buf:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError("connection closed before a full line")
        buf += chunk
        if len(buf) > limit:
            raise ValueError("line too long")
    line, _, rest = buf.partition(b"\n")
    return line, rest


def read_line_sock(sock: object, limit: int = MAX_LINE) -> bytes:
    """Read one line from a socket whose peer sends nothing after it."""
    buf = b""
    while b"\n" not in buf:
        chunk = sock.recv(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise EOFError("connection closed before a full line")
        buf += chunk
        if len(buf) > limit:
            raise ValueError("line too long")
    return buf.partition(b"\n")[0]


def write_exit_record(path: str, record: ExitRecord) -> None:
    """Atomically and durably replace `path` with the record (tmp, fsync, rename, fsync dir)."""
    tmp = path + ".tmp"
    data = json.dumps(asdict(record)).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_exit_record(path: str) -> ExitRecord | None:
    """The record at `path`, or None when the container has not exited (no file)."""
    try:
        with open(path, "rb") as f:
            return exit_from(json.loads(f.read()))
    except FileNotFoundError:
        return None

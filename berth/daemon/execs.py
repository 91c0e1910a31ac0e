"""Exec instances: `docker exec` as Docker models it (create, then start).

An exec is recorded in memory only (as in Docker, execs do not survive a
daemon restart, but the processes they started do: they belong to the shim).
An exited exec stays inspectable for EXITED_KEEP_SECONDS, then is forgotten (as
dockerd's exec GC does), so that a container exec'd every second does not grow
the daemon without bound.
"""

from __future__ import annotations

import contextlib
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from berth.daemon.events import EventBus
from berth.daemon.state import Status
from berth.errors import BerthError, Conflict, NotFound

EXITED_KEEP_SECONDS = 300.0


@dataclass(slots=True)
class Exec:
    id: str
    container_id: str
    cmd: list[str]
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    env: list[str]
    user: str
    workdir: str
    privileged: bool
    detach_keys: str
    console_size: list[int] | None
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    started: bool = False
    exited_at: float = 0.0  # time.monotonic() of the exit; 0 until then
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def stdin(self) -> bool:
        return self.attach_stdin


class ExecService:
    def __init__(self, *, containers: Any, events: EventBus) -> None:
        self.containers = containers
        self.events = events
        self._execs: dict[str, Exec] = {}
        self._lock = threading.Lock()
        containers.execs = self

    def _running_container(self, ref: str) -> Any:
        c = self.containers.get(ref)
        if c.state.status == Status.PAUSED:
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.status != Status.RUNNING:
            raise Conflict(f"Container {c.id} is not running")
        return c

    def create(self, ref: str, body: dict[str, Any]) -> str:
        c = self._running_container(ref)
        e = Exec(
            id=secrets.token_hex(32),
            container_id=c.id,
            cmd=list(body["Cmd"]),
            tty=bool(body.get("Tty")),
            attach_stdin=bool(body.get("AttachStdin")),
            attach_stdout=bool(body.get("AttachStdout", True)),
            attach_stderr=bool(body.get("AttachStderr", True)),
            env=list(body.get("Env") or []),
            user=body.get("User") or "",
            workdir=body.get("WorkingDir") or "",
            privileged=bool(body.get("Privileged")),
            detach_keys=body.get("DetachKeys") or "",
            console_size=body.get("ConsoleSize"),
        )
        with self._lock:
            self._forget_exited()
            self._execs[e.id] = e
        self.containers._emit(c, "exec_create: " + " ".join(e.cmd), execID=e.id)
        return e.id

    def _forget_exited(self) -> None:
        """Drop execs that exited more than EXITED_KEEP_SECONDS ago (lock held)."""
        cutoff = time.monotonic() - EXITED_KEEP_SECONDS
        for key in [k for k, e in self._execs.items() if 0 < e.exited_at < cutoff]:
            del self._execs[key]

    def get(self, exec_id: str) -> Exec:
        with self._lock:
            e = self._execs.get(exec_id)
        if e is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return e

    def ids_of(self, cid: str) -> list[str]:
        with self._lock:
            return [e.id for e in self._execs.values() if e.container_id == cid and e.running]

    def forget_container(self, cid: str) -> None:
        with self._lock:
            for k in [k for k, e in self._execs.items() if e.container_id == cid]:
                del self._execs[k]

    def _claim(self, exec_id: str) -> tuple[Exec, Any]:
        e = self.get(exec_id)
        with self._lock:
            if e.started:
                raise Conflict(f"Error: Exec command {exec_id} has already run")
            e.started = True
        try:
            c = self._running_container(e.container_id)
        except BaseException:
            e.started = False
            raise
        return e, c

    def process_of(self, e: Exec, c: Any) -> dict[str, Any]:
        """The OCI process the runtime execs: the container's env, user, cwd, caps."""
        from berth.daemon.process import exec_process

        return exec_process(self.containers, c, e)

    def start_detached(self, exec_id: str) -> None:
        e, c = self._claim(exec_id)
        self._launch(e, c, None, multiplex=False)

    def start_attached(self, exec_id: str, multiplex: bool):
        e, c = self._claim(exec_id)

        def session(conn: Any) -> None:
            self._launch(e, c, conn, multiplex=multiplex)

        return session

    def _launch(self, e: Exec, c: Any, conn: Any, multiplex: bool) -> None:
        from berth.daemon.streams import run_exec

        self.containers._emit(c, "exec_start: " + " ".join(e.cmd), execID=e.id)
        try:
            run_exec(self, e, c, conn, multiplex)
        except BerthError as err:
            # It never ran: exec inspect says 126. A detached start answers with
            # the error; an attached client already has its 101, so, as dockerd,
            # the reason goes down the stream (stdout).
            e.running = False
            if e.exit_code is None:  # failed before the shim was asked (user, ...)
                e.exit_code = 126
            e.exited_at = e.exited_at or time.monotonic()
            e.done.set()
            if conn is None:
                raise
            line = f"{err}\r\n".encode()
            with contextlib.suppress(OSError):
                conn.write(struct.pack(">BxxxL", 1, len(line)) + line if multiplex else line)

    def finished(self, e: Exec, code: int) -> None:
        e.running = False
        e.exit_code = code
        e.exited_at = time.monotonic()
        e.done.set()
        try:
            c = self.containers.get(e.container_id)
            self.containers._emit(c, "exec_die", execID=e.id, exitCode=str(code))
        except NotFound:
            pass

    def resize(self, exec_id: str, height: int, width: int) -> None:
        e = self.get(exec_id)
        if not e.running:
            raise Conflict(f"Exec {exec_id} is not running")
        self.containers.tasks.resize_exec(e.container_id, e.id, height, width)

    def inspect(self, exec_id: str) -> dict[str, Any]:
        e = self.get(exec_id)
        return {
            "ID": e.id,
            "Running": e.running,
            "ExitCode": e.exit_code,
            "ProcessConfig": {
                "tty": e.tty,
                "entrypoint": e.cmd[0],
                "arguments": e.cmd[1:],
                "privileged": e.privileged,
                "user": e.user,
            },
            "OpenStdin": e.attach_stdin,
            "OpenStderr": e.attach_stderr,
            "OpenStdout": e.attach_stdout,
            "CanRemove": False,
            "ContainerID": e.container_id,
            "DetachKeys": e.detach_keys,
            "Pid": e.pid,
        }

"""exec in a running container: `RUNTIME exec --detach --pid-file ...`, so that
the exec'd process is re-parented to the shim (a child subreaper), which reaps
it and reports its exit code. Each exec has its own stdio (a pty of its own, or
pipes), relayed to the connection that asked for it (an attached exec), or
read and dropped (a detached one); exec output is not logged, as in Docker.
Finished execs are remembered (up to MAX_EXEC_RECORDS) for exec_state and
exec_wait.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from typing import TYPE_CHECKING

from berth.shim import protocol as p
from berth.shim.ociruntime import RuntimeFailed
from berth.shim.sockets import ConsoleSocket
from berth.shim.streams import Conn, Relay

if TYPE_CHECKING:
    from berth.shim.server import Shim

EXEC_DRAIN_SECONDS = 1.0
MAX_EXEC_RECORDS = 256


@dataclasses.dataclass
class Exec:
    """One exec of this container, from its request to its reaped exit."""

    exec_id: str
    tty: bool
    pid: int = 0
    running: bool = False
    exit_code: int | None = None
    relay: Relay | None = None
    files: tuple[str, ...] = ()
    waiters: list = dataclasses.field(default_factory=list)  # Conns waiting for the exit


class Execs:
    """The execs of one container; the shim routes exec_* requests and reaped pids here."""

    def __init__(self, shim: Shim) -> None:
        self.shim = shim
        self.loop = shim.loop
        self.execs: dict[str, Exec] = {}
        self.exec_by_pid: dict[int, Exec] = {}
        self.exec_seq = 0

    def states(self) -> list[p.ExecState]:
        return [self._exec_state(e) for e in self.execs.values()]

    def pty(self, exec_id: str) -> int | None:
        ex = self._exec(exec_id)
        return ex.relay.pty if ex.relay else None

    def reaped(self, pid: int, status: int) -> bool:
        """Whether `pid` was one of our exec'd processes (now handled)."""
        ex = self.exec_by_pid.pop(pid, None)
        if ex is None:
            return False
        self._exec_exited(ex, status)
        return True

    def _exec(self, exec_id: str) -> Exec:
        ex = self.execs.get(exec_id)
        if ex is None:
            raise p.BadRequest("NotFound", f"No such exec instance: {exec_id}")
        return ex

    @staticmethod
    def _exec_state(ex: Exec) -> p.ExecState:
        return p.ExecState(ex.exec_id, ex.pid, ex.running, ex.exit_code)

    def op_exec_state(self, conn: Conn, msg: dict) -> None:
        conn.reply(
            **dataclasses.asdict(
                self._exec_state(self._exec(str(p.from_fields(p.ExecRef, msg).exec_id)))
            )
        )
        conn.finish()

    def op_exec_wait(self, conn: Conn, msg: dict) -> None:
        ex = self._exec(str(p.from_fields(p.ExecRef, msg).exec_id))
        if ex.exit_code is not None:
            conn.reply(**dataclasses.asdict(self._exec_state(ex)))
            conn.finish()
        else:
            ex.waiters.append(conn)

    def op_exec(self, conn: Conn, msg: dict) -> None:
        req = p.from_fields(p.ExecRequest, msg)
        if self.shim.status != "running":
            raise p.BadRequest(
                "Conflict", f"container {self.shim.cfg.id} is {self.shim.status}, not running"
            )
        old = self.execs.get(req.exec_id)
        if old is not None and (old.running or old.pid == 0):
            raise p.BadRequest("Conflict", f"exec {req.exec_id} is already running")
        self.exec_seq += 1
        n = self.exec_seq
        process_file = self.shim._path(f"exec-{n}.json")
        pid_file = self.shim._path(f"exec-{n}.pid")
        log_file = self.shim._path(f"exec-{n}.log")
        p.atomic_write_text(process_file, json.dumps(req.process))
        ex = Exec(req.exec_id, bool(req.tty), files=(process_file, pid_file, log_file))
        self._remember(ex)
        rt = dataclasses.replace(self.shim.rt, log=log_file)
        console = None
        pipes: tuple[int | None, int, int] | None = None
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            if ex.tty:
                console = ConsoleSocket(self.shim._path(f"exec-{n}.sock"))
                pid = rt.spawn(rt.exec_argv(process_file, pid_file, console.address))
            else:
                in_r, in_w = os.pipe() if req.stdin else (null, None)
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                try:
                    pid = rt.spawn(rt.exec_argv(process_file, pid_file, None), (in_r, out_w, err_w))
                except BaseException:
                    for fd in (in_w, out_r, err_r):
                        if fd is not None:
                            os.close(fd)
                    raise
                finally:
                    for fd in {in_r, out_w, err_w} - {null}:
                        os.close(fd)
                pipes = (in_w, out_r, err_r)
        except BaseException:
            if console:
                console.close()
            del self.execs[req.exec_id]
            raise
        finally:
            os.close(null)
        self.shim.spawned[pid] = lambda status: self._exec_started(
            conn, req, ex, rt, console, pipes, status
        )

    def _exec_started(self, conn: Conn, req, ex: Exec, rt, console, pipes, status: int) -> None:
        try:
            rt.check(status, "exec")
            with open(ex.files[1]) as f:
                ex.pid = int(f.read().strip())
            if console is not None:
                master = console.receive()
                ex.relay = Relay(self.loop, {master: p.STDOUT}, master, pty=master)
            else:
                in_w, out_r, err_r = pipes
                ex.relay = Relay(self.loop, {out_r: p.STDOUT, err_r: p.STDERR}, in_w)
                pipes = None
        except (RuntimeFailed, OSError, ValueError) as e:
            if pipes:
                for fd in pipes:
                    if fd is not None:
                        os.close(fd)
            self.execs.pop(ex.exec_id, None)
            self._remove_files(ex)
            conn.reply_error("InternalError", f"OCI runtime exec failed: {e}")
            return
        finally:
            if console is not None:
                console.close()
        ex.running = True
        conn.reply(**dataclasses.asdict(self._exec_state(ex)))
        if req.attach and not conn.closed:
            conn.stdin = bool(req.stdin)
            conn.stdout = conn.stderr = True
            conn.stdin_once = True
            conn.detach_keys = req.detach_keys.encode("latin-1") if conn.stdin else b""
            ex.relay.add(conn)
        else:
            conn.finish()
        if ex.pid in self.shim.unclaimed:
            self._exec_exited(ex, self.shim.unclaimed.pop(ex.pid))
        else:
            self.exec_by_pid[ex.pid] = ex

    def _exec_exited(self, ex: Exec, status: int) -> None:
        code, _ = p.exit_code(status)

        def done() -> None:
            ex.exit_code = code
            ex.running = False
            if ex.relay is not None:
                ex.relay.end("exited", code)
                ex.relay.close()
            self._remove_files(ex)
            state = dataclasses.asdict(self._exec_state(ex))
            for waiter in ex.waiters:
                waiter.reply(**state)
                waiter.finish()
            ex.waiters.clear()

        if ex.relay is None:
            done()
        else:
            ex.relay.drain(EXEC_DRAIN_SECONDS, done)

    def _remember(self, ex: Exec) -> None:
        self.execs[ex.exec_id] = ex
        if len(self.execs) > MAX_EXEC_RECORDS:
            for key, old in list(self.execs.items()):
                if not old.running and old.pid:
                    del self.execs[key]
                    if len(self.execs) <= MAX_EXEC_RECORDS:
                        break

    @staticmethod
    def _remove_files(ex: Exec) -> None:
        for path in ex.files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

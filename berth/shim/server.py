"""The shim process: one per container, in its own session, outliving the daemon.

The protocol it speaks is in `berth.shim.protocol`. Its life, in order:

1. Become a child subreaper (the container's init, orphaned when the runtime's
   `create` exits, is re-parented to us, so we can reap it), write ``shim.pid``,
   bind ``shim.sock`` (early, so a client can wait in the backlog).
2. Prepare stdio: with a tty, a console socket on which the runtime sends the
   pty master (SCM_RIGHTS); otherwise three pipes (stdin only when kept open).
3. ``RUNTIME create --bundle B --pid-file init.pid [--console-socket S] ID``,
   then ``start ID`` (unless the daemon asked to start later), then answer the
   spawner with our pid and the container's.
4. Serve: relay output to the json-file log and to attached clients, stdin back,
   resize, kill/pause/resume through the runtime, exec (``exec -d`` so that the
   exec'd process is also our child and we reap its exit code), wait, state.
5. On the init's exit: write ``exit.json`` atomically (code, time, OOM kill)
   BEFORE anyone is told, drain the output (bounded), end the attach streams,
   answer waiters, ``RUNTIME delete ID``, and exit once the replies are sent.

Everything runs on one thread in a `selectors` loop (`berth.shim.streams`),
which keeps the process small: no asyncio, no threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import termios
import time

from berth.shim import protocol as p
from berth.shim.execs import Execs
from berth.shim.jsonlog import JsonLog
from berth.shim.ociruntime import Runtime, RuntimeFailed, runs_this_berth
from berth.shim.oom import memory_cgroup_files, oom_kills
from berth.shim.sockets import ConsoleSocket, listen
from berth.shim.streams import Conn, Loop, Relay

DRAIN_SECONDS = 2.0  # how long output may trail the init's exit
LINGER_SECONDS = 5.0  # how long an exited shim waits for replies to be read


class Shim:
    def __init__(self, cfg: p.SpawnConfig) -> None:
        self.cfg = cfg
        self.dir = cfg.state_dir
        self.loop = Loop()
        self.rt = Runtime(
            cfg.runtime,
            cfg.runtime_root,
            self._path(p.RUNTIME_LOG_NAME),
            cfg.id,
            in_process=runs_this_berth(cfg.runtime),
        )
        self.status = "starting"
        self.pid = 0
        self.exit: p.ExitRecord | None = None
        self.published = False  # exit told to waiters (output drained first)
        self.waiters: list[Conn] = []
        self.conns: set[Conn] = set()
        self.spawned: dict[int, object] = {}  # runtime pid -> callback(status)
        self.unclaimed: dict[int, int] = {}  # reaped pids nobody knew yet -> status
        self.relay: Relay | None = None
        self.master: int | None = None
        self.quit_at: float | None = None
        self.sock_ino = 0
        self.oom_files: list[str] = []
        self.execs = Execs(self)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def _record_error(self) -> None:
        """Append the exception being handled to shim-error.log, and go on serving."""
        import traceback

        with contextlib.suppress(OSError), open(self._path("shim-error.log"), "a") as f:
            traceback.print_exc(file=f)

    # ---- start ------------------------------------------------------------------------

    def setup(self) -> int:
        """Steps 1-3 above; the container's pid. Raises RuntimeFailed or OSError."""
        from berth.linux.process import set_child_subreaper, set_name

        with contextlib.suppress(OSError):
            set_name("berth-shim")
        with contextlib.suppress(OSError):
            os.setsid()
        os.chdir("/")  # never pin the daemon's working directory (or its mount)
        set_child_subreaper()
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        for stale in (p.EXIT_NAME, p.INIT_PID_NAME, p.RUNTIME_LOG_NAME):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(stale))
        p.atomic_write_text(self._path(p.SHIM_PID_NAME), f"{os.getpid()}\n")
        self.loop.on_error = self._record_error
        self.listener, self.sock_ino = listen(self._path(p.SOCKET_NAME))
        self.listener.setblocking(False)
        self.loop.want(self.listener.fileno(), self, read=True)
        self._signals()
        self.oom_files = memory_cgroup_files(self.cfg.bundle, self.cfg.id)

        log = (
            JsonLog(self.cfg.log_path, self.cfg.log_max_size, self.cfg.log_max_file)
            if (self.cfg.log_path)
            else None
        )
        pid_file = self._path(p.INIT_PID_NAME)
        if self.cfg.tty:
            console = ConsoleSocket(self._path("console.sock"))
            try:
                self.rt.run(self.rt.create_argv(self.cfg.bundle, pid_file, console.address))
                self.master = console.receive()
            finally:
                console.close()
            self.relay = Relay(
                self.loop,
                {self.master: p.STDOUT},
                self.master if self.cfg.stdin_open else None,
                log,
                pty=self.master,
            )
        else:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            in_r, in_w = os.pipe() if self.cfg.stdin_open else (null, None)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                self.rt.run(
                    self.rt.create_argv(self.cfg.bundle, pid_file, None), (in_r, out_w, err_w)
                )
            except BaseException:
                for fd in (in_w, out_r, err_r):
                    if fd is not None:
                        os.close(fd)
                raise
            finally:
                for fd in {in_r, out_w, err_w, null}:
                    os.close(fd)
            self.relay = Relay(self.loop, {out_r: p.STDOUT, err_r: p.STDERR}, in_w, log)
        with open(pid_file) as f:
            self.pid = int(f.read().strip())
        self.status = "created"
        if self.cfg.start:
            self._start()
        return self.pid

    def _start(self) -> None:
        self.rt.run(self.rt.argv("start", self.cfg.id))
        if self.status == "created":
            self.status = "running"

    def _signals(self) -> None:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._wake_r = r
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        self.loop.want(r, _Waker(self), read=True)

    # ---- the loop ---------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            if self.quit_at is not None:
                flushing = any(c.out for c in self.conns if not c.closed)
                if not flushing or time.monotonic() >= self.quit_at:
                    return
            self.loop.run_once(0.2 if self.quit_at is not None else None)

    def on_event(self, mask: int) -> None:
        """The listener is readable: accept every waiting client."""
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn = Conn(self.loop, sock, self._request)
            self.conns.add(conn)
            if len(self.conns) > 64:
                self.conns = {c for c in self.conns if not c.closed}

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.spawned:
                self.spawned.pop(pid)(status)  # type: ignore[operator]
            elif pid == self.pid and self.exit is None:
                self._init_exited(status)
            elif self.execs.reaped(pid, status):
                pass
            elif len(self.unclaimed) < 4096:
                self.unclaimed[pid] = status

    # ---- requests ---------------------------------------------------------------------

    def _request(self, conn: Conn, msg: dict) -> None:
        op = msg.get("op")
        handler = None
        if isinstance(op, str):
            owner = self.execs if op.startswith("exec") else self
            handler = getattr(owner, f"op_{op}", None)
        try:
            if handler is None:
                raise p.BadRequest("InvalidArgument", f"unknown shim request {op!r}")
            handler(conn, msg)
        except p.BadRequest as e:
            conn.reply_error(e.kind, e.message)
        except RuntimeFailed as e:
            conn.reply_error("InternalError", str(e))
        except (OSError, ValueError, TypeError, KeyError) as e:
            conn.reply_error("InternalError", f"{op} on container {self.cfg.id}: {e}")
        except Exception as e:
            self._record_error()
            conn.reply_error("InternalError", f"{op} on container {self.cfg.id}: bug: {e!r}")

    def _not_running(self) -> p.BadRequest:
        return p.BadRequest("Conflict", f"container {self.cfg.id} is not running")

    def op_ping(self, conn: Conn, msg: dict) -> None:
        conn.reply(pid=os.getpid(), version=p.VERSION)
        conn.finish()

    def op_state(self, conn: Conn, msg: dict) -> None:
        st = p.ShimState(
            id=self.cfg.id,
            shim_pid=os.getpid(),
            pid=self.pid,
            status=self.status,
            tty=self.cfg.tty,
            stdin_open=self.cfg.stdin_open,
            attached=len(self.relay.clients) if self.relay else 0,
            exit=self.exit,
            execs=self.execs.states(),
        )
        conn.reply(**dataclasses.asdict(st), version=p.VERSION)
        conn.finish()

    def op_start(self, conn: Conn, msg: dict) -> None:
        if self.status != "created":
            raise p.BadRequest("Conflict", f"container {self.cfg.id} is {self.status}, not created")
        self._start()
        conn.reply(pid=self.pid)
        conn.finish()

    def op_attach(self, conn: Conn, msg: dict) -> None:
        req = p.from_fields(p.AttachRequest, msg)
        if self.exit is not None or self.relay is None or self.relay.ended:
            raise self._not_running()
        conn.reply(pid=self.pid, tty=self.cfg.tty)
        conn.stdin = bool(req.stdin) and self.cfg.stdin_open
        conn.stdout, conn.stderr = bool(req.stdout), bool(req.stderr)
        conn.stdin_once = bool(req.stdin_once)
        conn.detach_keys = req.detach_keys.encode("latin-1") if conn.stdin else b""
        self.relay.add(conn)

    def op_resize(self, conn: Conn, msg: dict) -> None:
        req = p.from_fields(p.ResizeRequest, msg)
        height, width, exec_id = int(req.height), int(req.width), req.exec_id
        if height < 0 or width < 0 or height > 0xFFFF or width > 0xFFFF:
            raise p.BadRequest("InvalidArgument", f"bad window size {height}x{width}")
        main_pty = self.relay.pty if self.relay else None
        fd = self.execs.pty(str(exec_id)) if exec_id else main_pty
        if fd is not None:
            termios.tcsetwinsize(fd, (height, width))
        conn.reply()
        conn.finish()

    def _runtime_call(self, *args: str) -> None:
        try:
            self.rt.run(self.rt.argv(*args))
        except RuntimeFailed:
            if self.exit is not None or not _alive(self.pid):
                raise self._not_running() from None
            raise

    def op_kill(self, conn: Conn, msg: dict) -> None:
        if self.exit is not None:
            raise self._not_running()
        req = p.from_fields(p.KillRequest, msg)
        sig = str(int(req.signal))
        self._runtime_call("kill", *(["--all"] if req.all else []), self.cfg.id, sig)
        conn.reply()
        conn.finish()

    def op_pause(self, conn: Conn, msg: dict) -> None:
        if self.status != "running":
            raise p.BadRequest("Conflict", f"container {self.cfg.id} is {self.status}")
        self._runtime_call("pause", self.cfg.id)
        self.status = "paused"
        conn.reply()
        conn.finish()

    def op_resume(self, conn: Conn, msg: dict) -> None:
        if self.status != "paused":
            raise p.BadRequest("Conflict", f"container {self.cfg.id} is not paused")
        self._runtime_call("resume", self.cfg.id)
        self.status = "running"
        conn.reply()
        conn.finish()

    def op_close_stdin(self, conn: Conn, msg: dict) -> None:
        if self.relay is not None:
            self.relay.close_stdin()
        conn.reply()
        conn.finish()

    def op_wait(self, conn: Conn, msg: dict) -> None:
        if self.published:
            conn.reply(exit=dataclasses.asdict(self.exit))
            conn.finish()
        else:
            self.waiters.append(conn)

    def op_shutdown(self, conn: Conn, msg: dict) -> None:
        if self.exit is None:
            raise p.BadRequest("Conflict", f"container {self.cfg.id} is still running")
        conn.reply()
        conn.finish()
        if self.quit_at is not None:
            self.quit_at = min(self.quit_at, time.monotonic() + 0.5)

    # ---- the end ----------------------------------------------------------------------

    def _init_exited(self, status: int) -> None:
        code, sig = p.exit_code(status)
        oom = sig == signal.SIGKILL and oom_kills(self.oom_files) > 0
        self.exit = p.ExitRecord(
            exit_code=code, finished_ns=time.time_ns(), oom_killed=oom, signal=sig
        )
        p.write_exit_record(self._path(p.EXIT_NAME), self.exit)
        self.status = "stopped"
        if self.relay is None:
            self._publish()
        else:
            self.relay.drain(DRAIN_SECONDS, self._publish)

    def _publish(self) -> None:
        assert self.exit is not None
        if self.relay is not None:
            self.relay.end("exited", self.exit.exit_code)
            self.relay.close()
        self.published = True
        for conn in self.waiters:
            conn.reply(exit=dataclasses.asdict(self.exit))
            conn.finish()
        self.waiters.clear()
        try:
            self.rt.run(self.rt.argv("delete", self.cfg.id))
        except RuntimeFailed:
            with contextlib.suppress(RuntimeFailed):
                self.rt.run(self.rt.argv("delete", "--force", self.cfg.id))
        self.quit_at = time.monotonic() + LINGER_SECONDS

    def cleanup(self) -> None:
        """Remove the socket if it is still ours (a new shim may have taken the dir)."""
        try:
            if os.stat(self._path(p.SOCKET_NAME)).st_ino == self.sock_ino:
                os.unlink(self._path(p.SOCKET_NAME))
        except FileNotFoundError:
            pass


class _Waker:
    """The SIGCHLD wake-up pipe: drain it and reap."""

    def __init__(self, shim: Shim) -> None:
        self.shim = shim

    def on_event(self, mask: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.shim._wake_r, 512):
                pass
        self.shim.reap()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_shim(cfg: p.SpawnConfig, reply: socket.socket) -> None:
    """Be the shim for `cfg`; report on `reply`; never returns (exits the process)."""
    shim = Shim(cfg)
    code = 0
    try:
        try:
            pid = shim.setup()
        except (RuntimeFailed, OSError, ValueError) as e:
            with contextlib.suppress(OSError):
                reply.sendall(p.reply_line(False, kind="InternalError", message=str(e)))
            with contextlib.suppress(RuntimeFailed, OSError):
                shim.rt.run(shim.rt.argv("delete", "--force", cfg.id))
            code = 1
            return
        with contextlib.suppress(OSError):
            reply.sendall(p.reply_line(True, shim_pid=os.getpid(), pid=pid))
        reply.close()
        shim.serve()
    except BaseException:  # the last resort: leave the reason where the daemon can read it
        import traceback

        code = 1
        with contextlib.suppress(OSError), open(shim._path("shim-error.log"), "a") as f:
            traceback.print_exc(file=f)
    finally:
        reply.close()
        shim.cleanup()
        os._exit(code)


def serve_from_fd(fd: int) -> int:
    """`berth-shim serve --fd N`: read the config, detach, run (the launcher exits at once)."""
    reply = socket.socket(fileno=fd)
    reader_line, _ = p.read_line(reply.fileno())
    msg = json.loads(reader_line)
    cfg = p.from_fields(p.SpawnConfig, msg)
    if os.fork() != 0:
        os._exit(0)  # the daemon reaps the launcher; the shim is re-parented to init
    run_shim(cfg, reply)
    return 0

"""The containers service: create, start, stop, remove ... and what happens
when a container's process exits (restart policies, --rm).

Every change of a container's state goes through `berth.daemon.state.transition`
under that container's lock, then is saved. Processes belong to shims
(`berth.daemon.tasks`); the service only asks them and watches for exits, one
small thread per running container.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
import signal as _signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from berth.daemon import container_io, health, merge, names, restart, view
from berth.daemon.config import DaemonOptions
from berth.daemon.events import EventBus
from berth.daemon.hooks import ContainerHook, ContainerInfo, StartContext
from berth.daemon.state import Ev, State, Status, check, transition
from berth.daemon.store import Container, ContainerStore
from berth.daemon.tasks import ExitInfo, SpawnRequest, Tasks
from berth.errors import (
    BerthError,
    Conflict,
    InternalError,
    InvalidArgument,
    NotFound,
    NotModified,
    Unavailable,
)
from berth.linux.fs import replace_file
from berth.oci import builder

log = logging.getLogger(__name__)

RUNNING_LIKE = (Status.RUNNING, Status.PAUSED)


class ContainerService:
    def __init__(
        self,
        *,
        options: DaemonOptions,
        db: Any,
        events: EventBus,
        images: Any,
        hooks: list[ContainerHook],
        tasks: Tasks | None = None,
    ) -> None:
        self.options = options
        self.store = ContainerStore(db)
        self.events = events
        self.images = images
        self.hooks = hooks
        self.root = options.data_root / "containers"
        self.root.mkdir(parents=True, exist_ok=True)
        self.runtime_root = options.exec_root / "runtime"
        if tasks is None:
            from berth.daemon.shimtasks import ShimTasks

            tasks = ShimTasks(state_root=options.exec_root / "shims")
        self.tasks = tasks
        self._locks: dict[str, threading.RLock] = {}
        self._held: list[Callable[[], None]] | None = None  # restarts held during restore
        self._locks_guard = threading.Lock()
        self._cond = threading.Condition()
        self._exit_gen: dict[str, int] = {}
        self._removed: dict[str, tuple[int, str]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._delays: dict[str, float] = {}
        self._closing = False
        self._pending_attach: dict[str, list[Any]] = {}
        self.execs: Any = None  # set by ExecService (exec ids per container)

    # ---- helpers -------------------------------------------------------------------------

    def _lock(self, cid: str) -> threading.RLock:
        with self._locks_guard:
            lock = self._locks.get(cid)
            if lock is None:
                lock = self._locks[cid] = threading.RLock()
            return lock

    def dir_of(self, cid: str) -> Path:
        if len(cid) != 64 or not all(ch in "0123456789abcdef" for ch in cid):
            raise InvalidArgument(f"invalid container id {cid!r}")
        return self.root / cid

    def get(self, ref: str) -> Container:
        return self.store.get(ref)

    def _save(self, c: Container, state: State) -> Container:
        c.state = state
        self.store.save_state(c.id, state)
        return c

    def _attrs(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {"image": c.image, "name": c.name}
        attrs.update({k: str(v) for k, v in (c.config.get("Labels") or {}).items()})
        attrs.update(extra)
        return attrs

    def _emit(self, c: Container, action: str, **extra: str) -> None:
        self.events.emit("container", action, c.id, self._attrs(c, **extra))

    def info_of(self, c: Container) -> ContainerInfo:
        return ContainerInfo(
            id=c.id,
            name=c.name,
            image=c.image,
            config=c.config,
            host_config=c.host_config,
            container_dir=self.dir_of(c.id),
            rootfs=self.images.rootfs_path(c.id),
            networking_config=c.networking_config,
        )

    def runtime_path(self, name: str) -> str:
        try:
            return self.options.runtimes[name]
        except KeyError:
            raise InvalidArgument(f"Unknown runtime specified {name}") from None

    # ---- create --------------------------------------------------------------------------

    def create(self, body: dict[str, Any], name: str | None = None) -> tuple[str, list[str]]:
        merge.check_types(body)
        body = dict(body)
        hc = dict(body.pop("HostConfig", None) or {})
        netcfg = dict(body.pop("NetworkingConfig", None) or {})
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidArgument("Config cannot be empty in order to create a container")
        warnings = merge.validate_host_config(hc, os.cpu_count() or 1)
        runtime = hc.get("Runtime") or self.options.default_runtime
        self.runtime_path(runtime)
        if name is not None:
            name = names.validate(name)
            other = self.store.name_taken(name)
            if other:
                from berth.daemon.store import name_conflict

                raise name_conflict(name, other)
        image = self.images.resolve(image_ref)
        cid = secrets.token_hex(32)
        cfg = merge.merge_image_config(body, image.config)
        cfg["Image"] = image_ref
        cfg["Hostname"] = cfg.get("Hostname") or cid[:12]
        builder.command_of(cfg)
        if name is None:
            name = self._free_name()
        hc = view.normalise_host_config(hc, runtime, self.options.default_shm_size)
        c = Container(
            id=cid,
            name=name,
            image=image_ref,
            image_id=image.id,
            created=time.time_ns(),
            runtime=runtime,
            config=cfg,
            host_config=hc,
            networking_config=netcfg,
            state=State(),
        )
        cdir = self.dir_of(cid)
        done: list[Callable[[], None]] = []
        try:
            cdir.mkdir(mode=0o710)
            done.append(lambda: shutil.rmtree(cdir, ignore_errors=True))
            self._write_default_files(c, cdir)
            self.images.prepare_rootfs(cid, image.id)
            done.append(lambda: self.images.remove_rootfs(cid))
            self.store.insert(c)
            done.append(lambda: self.store.delete(cid))
            info = self.info_of(c)
            for hook in self.hooks:
                hook.on_create(info)
                done.append(lambda h=hook: h.on_remove(cid, True))
        except BaseException:
            for undo in reversed(done):
                try:
                    undo()
                except Exception:
                    log.exception("undoing the create of %s", cid)
            raise
        self._emit(c, "create")
        return cid, warnings

    def _free_name(self) -> str:
        for attempt in range(20):
            candidate = names.generate(attempt // 5)
            if not self.store.name_taken(candidate):
                return candidate
        return f"berth_{secrets.token_hex(6)}"

    def _write_default_files(self, c: Container, cdir: Path) -> None:
        hostname = c.config["Hostname"]
        mode = c.host_config.get("NetworkMode") or "default"
        replace_file(cdir / "hostname", (hostname + "\n").encode(), durable=False)
        if mode == "host":
            hosts = _read("/etc/hosts")
        else:
            hosts = (
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
                "ff02::2\tip6-allrouters\n"
            )
        replace_file(cdir / "hosts", hosts.encode(), durable=False)
        replace_file(
            cdir / "resolv.conf",
            _resolv_conf(self.options.dns, mode == "host").encode(),
            durable=False,
        )

    # ---- start ---------------------------------------------------------------------------

    def start(self, ref: str) -> None:
        c = self.store.get(ref)
        with self._lock(c.id):
            c = self.store.get(c.id)
            if c.state.status in RUNNING_LIKE:
                check(c.name, c.state, Ev.START)
            check(c.name, c.state, Ev.START)
            self._delays.pop(c.id, None)
            self._start_locked(c, manual=True)

    def _start_locked(self, c: Container, manual: bool) -> None:
        cdir = self.dir_of(c.id)
        started: list[Callable[[], None]] = []
        try:
            rootfs = self.images.mount_rootfs(c.id)
            started.append(lambda: self.images.unmount_rootfs(c.id))
            info = self.info_of(c)
            info.rootfs = rootfs
            ctx = StartContext(info)
            started.append(lambda: self._hooks_after_stop(c.id))
            for hook in self.hooks:
                hook.before_start(ctx)
            if ctx.hosts is not None:
                replace_file(cdir / "hosts", ctx.hosts.encode(), durable=False)
            if ctx.resolv_conf is not None:
                replace_file(cdir / "resolv.conf", ctx.resolv_conf.encode(), durable=False)
            spec = builder.build_spec(
                builder.BuildInput(
                    id=c.id,
                    config=c.config,
                    host_config=c.host_config,
                    rootfs=rootfs,
                    container_dir=cdir,
                    init_path=self.options.init_path,
                    default_shm_size=self.options.default_shm_size,
                    netns_path=ctx.netns_path,
                    extra_mounts=ctx.mounts,
                    extra_env=ctx.env,
                )
            )
            bundle = cdir / "bundle"
            bundle.mkdir(exist_ok=True)
            import json

            replace_file(bundle / "config.json", json.dumps(spec.to_dict()).encode(), durable=False)
            started.append(lambda: self._cleanup_task(c.id))
            pid = self.tasks.spawn(
                SpawnRequest(
                    id=c.id,
                    bundle=bundle,
                    runtime=self.runtime_path(c.runtime),
                    runtime_root=self.runtime_root / c.runtime,
                    tty=bool(c.config.get("Tty")),
                    stdin_open=bool(c.config.get("OpenStdin")),
                    log_path=cdir / f"{c.id}-json.log",
                    log_max_size=_size_opt(c.host_config, "max-size", self.options.log_max_size),
                    log_max_file=int(
                        (c.host_config.get("LogConfig") or {}).get("Config", {}).get("max-file")
                        or self.options.log_max_file
                    ),
                )
            )
            self._hand_over_attaches(c.id)
            self.tasks.start(c.id)
        except BaseException as exc:
            for undo in reversed(started):
                try:
                    undo()
                except Exception:
                    log.exception("undoing the start of %s", c.id)
            self._fail_pending_attaches(c.id)
            message = exc.message if isinstance(exc, BerthError) else str(exc)
            self._save(
                c,
                transition(
                    c.name, c.state, Ev.START_FAILED, error=message, exit_code=_start_exit(message)
                ),
            )
            with self._cond:  # waiters (docker run) learn of the failure as an exit
                self._exit_gen[c.id] = self._exit_gen.get(c.id, 0) + 1
                self._cond.notify_all()
            if c.host_config.get("AutoRemove"):
                threading.Thread(target=self._auto_remove, args=(c.id,), daemon=True).start()
            if isinstance(exc, BerthError):
                raise
            raise InternalError(f"failed to start container {c.id[:12]}: {exc}") from exc
        self._save(c, transition(c.name, c.state, Ev.START, pid=pid))
        self._emit(c, "start")
        self._watch(c.id)
        health.start_monitor(self, c.id)

    def _set_health(self, cid: str, value: dict[str, Any]) -> None:
        health.set_health(self, cid, value)

    def _hand_over_attaches(self, cid: str) -> None:
        """Connect attaches that waited for this start before the process runs."""
        for pending in self._pending_attach.pop(cid, []):
            try:
                pending.stream = self.tasks.attach(
                    cid, pending.stdin, pending.stdout, pending.stderr, pending.detach_keys,
                    pending.stdin_once,
                )  # fmt: skip
            except Exception as exc:
                pending.error = exc
            pending.ready.set()

    def _fail_pending_attaches(self, cid: str) -> None:
        for pending in self._pending_attach.pop(cid, []):
            pending.error = Conflict(f"container {cid} did not start")
            pending.ready.set()

    def _hooks_after_stop(self, cid: str) -> None:
        for hook in self.hooks:
            try:
                hook.after_stop(cid)
            except Exception:
                log.exception("after_stop hook %s for %s", type(hook).__name__, cid)

    def _cleanup_task(self, cid: str) -> None:
        try:
            self.tasks.cleanup(cid)
        except Exception:
            log.exception("cleaning up the task of %s", cid)

    def _watch(self, cid: str) -> None:
        def run() -> None:
            try:
                info = self.tasks.wait(cid)
            except Exception as exc:
                log.warning("lost the shim of %s: %s", cid, exc)
                info = self.tasks.exit_record(cid) or self._reap_orphan(cid)
            if not self._closing:
                self._on_exit(cid, info)

        threading.Thread(target=run, name=f"watch-{cid[:12]}", daemon=True).start()

    # ---- exits and restart policies --------------------------------------------------------

    def _on_exit(self, cid: str, info: ExitInfo, *, daemon_start: bool = False) -> None:
        with self._lock(cid):
            try:
                c = self.store.get(cid)
            except NotFound:
                return
            if c.state.status not in (Status.RUNNING, Status.PAUSED, Status.REMOVING):
                return
            self._save(
                c,
                transition(
                    c.name, c.state, Ev.EXIT, exit_code=info.code, oom_killed=info.oom_killed,
                    now_ns=info.finished_ns or None, error=info.error,
                ),
            )  # fmt: skip
            # tell waiters first (`stop` returns now); the cleanup below holds the
            # container's lock, so a following start or rm waits for it
            if info.oom_killed:
                self._emit(c, "oom")
            self._emit(c, "die", exitCode=str(info.code))
            with self._cond:
                self._exit_gen[cid] = self._exit_gen.get(cid, 0) + 1
                self._cond.notify_all()
            self._hooks_after_stop(cid)
            self._cleanup_task(cid)
            try:
                self.images.unmount_rootfs(cid)
            except Exception:
                log.exception("unmounting the rootfs of %s", cid)
            if c.state.status == Status.REMOVING:
                return
            if c.host_config.get("AutoRemove"):
                threading.Thread(target=self._auto_remove, args=(cid,), daemon=True).start()
                return
            policy = restart.Policy.from_host_config(c.host_config)
            if daemon_start:
                # exited while the daemon was away: its policy applies as to any exit
                # (on-failure after a crash too, as Docker's restore does)
                again = restart.restart_on_daemon_start(
                    policy, c.state.manually_stopped
                ) or restart.should_restart(
                    policy, info.code, c.state.manually_stopped, c.state.restart_count
                )
            else:
                again = restart.should_restart(
                    policy, info.code, c.state.manually_stopped, c.state.restart_count
                )
            if again and not self._closing:
                self._schedule_restart(c)

    def runtime_command(
        self, c: Container, *args: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """`RUNTIME --root ROOT ARGS...` for container `c`: the daemon's only direct
        calls to the low-level runtime (delete, update), so that runc and crun work alike."""
        argv = [self.runtime_path(c.runtime), "--root", str(self.runtime_root / c.runtime), *args]
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=30, check=False)

    def _runtime_delete(self, c: Container) -> None:
        """`RUNTIME delete --force ID`: the runtime forgets the container (no-op if unknown)."""
        try:
            self.runtime_command(c, "delete", "--force", c.id)
        except Exception:
            log.exception("runtime delete of %s", c.id)

    def _reap_orphan(self, cid: str) -> ExitInfo:
        """The shim died without recording an exit: kill what is left of the
        container through its runtime, and report it exited with the reason."""
        try:
            self._runtime_delete(self.store.get(cid))
        except NotFound:
            pass
        return ExitInfo(
            code=137,
            finished_ns=time.time_ns(),
            error="the container's shim died; its processes were killed",
        )

    def _auto_remove(self, cid: str) -> None:
        try:
            self.remove(cid, force=True, volumes=True)
        except (NotFound, Unavailable):
            pass  # the process is already gone
        except Exception:
            log.exception("auto-removing %s", cid)

    def _schedule_restart(self, c: Container) -> None:
        ran_for = max(0.0, (c.state.finished_at - c.state.started_at) / 1e9)
        delay = restart.next_delay(self._delays.get(c.id, 0.0), ran_for)
        self._delays[c.id] = delay
        self._save(c, transition(c.name, c.state, Ev.SCHEDULE_RESTART))
        timer = threading.Timer(delay, self._restart_now, args=(c.id,))
        timer.daemon = True
        self._timers[c.id] = timer
        if self._held is not None:  # daemon start: after the hooks' restore
            self._held.append(timer.start)
        else:
            timer.start()

    def _restart_now(self, cid: str) -> None:
        with self._lock(cid):
            self._timers.pop(cid, None)
            try:
                c = self.store.get(cid)
            except NotFound:
                return
            if c.state.status != Status.RESTARTING or self._closing:
                return
            try:
                self._start_locked(c, manual=False)
                self._emit(c, "restart")
            except Exception as exc:
                log.warning("restart of %s failed: %s", cid, exc)
                with self._cond:
                    self._exit_gen[cid] = self._exit_gen.get(cid, 0) + 1
                    self._cond.notify_all()

    def _cancel_restart(self, cid: str) -> None:
        timer = self._timers.pop(cid, None)
        if timer is not None:
            timer.cancel()

    # ---- stop, kill, pause -----------------------------------------------------------------

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.get(ref)
        with self._lock(c.id):
            c = self.store.get(c.id)
            if c.state.status == Status.RESTARTING:
                self._cancel_restart(c.id)
                self._save(c, transition(c.name, c.state, Ev.STOP_REQUESTED, manual=True))
                self._emit(c, "stop")
                return
            if c.state.status not in RUNNING_LIKE:
                raise NotModified(f"container {c.name} is already stopped")
            self._save(c, transition(c.name, c.state, Ev.STOP_REQUESTED, manual=True))
        self._stop_process(c, timeout, signal)
        self._emit(c, "stop")

    def _stop_process(self, c: Container, timeout: int | None, signal: str | None) -> None:
        signum = builder.signal_number(signal or c.config.get("StopSignal") or "SIGTERM")
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            timeout = builder_default_timeout() if timeout is None else int(timeout)
        gen = self._gen(c.id)
        self._emit(c, "kill", signal=str(signum))
        try:
            self.tasks.kill(c.id, signum)
            if c.state.status == Status.PAUSED:
                self.tasks.resume(c.id)
        except (NotFound, Unavailable):
            pass  # the process is already gone
        if timeout < 0:
            self._wait_exit(c.id, gen, None)
            return
        if self._wait_exit(c.id, gen, timeout):
            return
        self._emit(c, "kill", signal=str(int(_signal.SIGKILL)))
        try:
            self.tasks.kill(c.id, int(_signal.SIGKILL), all_processes=True)
        except (NotFound, Unavailable):
            pass  # the process is already gone
        if not self._wait_exit(c.id, gen, 30):
            raise InternalError(f"container {c.name} did not exit after SIGKILL")

    def _gen(self, cid: str) -> int:
        with self._cond:
            return self._exit_gen.get(cid, 0)

    def _wait_exit(self, cid: str, gen: int, timeout: float | None) -> bool:
        """Wait until the exit counter passes `gen`; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._exit_gen.get(cid, 0) <= gen:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(min(left, 1.0) if left is not None else 1.0)
        return True

    def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.store.get(ref)
        try:
            self.stop(c.id, timeout, signal)
        except NotModified:
            pass
        self.start(c.id)
        self._emit(self.store.get(c.id), "restart")

    def kill(self, ref: str, signal: str = "SIGKILL") -> None:
        signum = builder.signal_number(signal)
        c = self.store.get(ref)
        with self._lock(c.id):
            c = self.store.get(c.id)
            if c.state.status not in RUNNING_LIKE:
                raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
            if signum in (int(_signal.SIGKILL), int(_signal.SIGTERM)):
                self._save(c, transition(c.name, c.state, Ev.STOP_REQUESTED, manual=True))
            self.tasks.kill(c.id, signum)
        self._emit(c, "kill", signal=str(signum))

    def pause(self, ref: str) -> None:
        c = self.store.get(ref)
        with self._lock(c.id):
            c = self.store.get(c.id)
            check(c.name, c.state, Ev.PAUSE)
            self.tasks.pause(c.id)
            self._save(c, transition(c.name, c.state, Ev.PAUSE))
        self._emit(c, "pause")

    def unpause(self, ref: str) -> None:
        c = self.store.get(ref)
        with self._lock(c.id):
            c = self.store.get(c.id)
            check(c.name, c.state, Ev.UNPAUSE)
            self.tasks.resume(c.id)
            self._save(c, transition(c.name, c.state, Ev.UNPAUSE))
        self._emit(c, "unpause")

    # ---- wait ----------------------------------------------------------------------------

    def waiter(self, ref: str, condition: str) -> Callable[[], tuple[int, str]]:
        """Register a wait now (before a start), block when the result is asked for."""
        c = self.store.get(ref)
        gen = self._gen(c.id)
        cid = c.id

        def result() -> tuple[int, str]:
            with self._cond:
                while True:
                    if cid in self._removed:
                        return self._removed[cid]
                    if condition != "removed" and self._exit_gen.get(cid, 0) > gen:
                        break
                    if condition == "not-running":
                        try:
                            cur = self.store.get(cid)
                        except NotFound:
                            return (c.state.exit_code, "")
                        if cur.state.status not in (*RUNNING_LIKE, Status.RESTARTING):
                            return (cur.state.exit_code, cur.state.error)
                    self._cond.wait(1.0)
            try:
                cur = self.store.get(cid)
            except NotFound:
                return self._removed.get(cid, (0, ""))
            return (cur.state.exit_code, cur.state.error)

        return result

    # ---- remove, rename, prune -----------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.store.get(ref)
        if c.state.status in RUNNING_LIKE:
            if not force:
                check(c.name, c.state, Ev.REMOVE)
            with self._lock(c.id):
                c = self.store.get(c.id)
                if c.state.status in RUNNING_LIKE:
                    self._save(c, transition(c.name, c.state, Ev.STOP_REQUESTED, manual=True))
            if c.state.status in RUNNING_LIKE:
                gen = self._gen(c.id)
                self._emit(c, "kill", signal=str(int(_signal.SIGKILL)))
                try:
                    self.tasks.kill(c.id, int(_signal.SIGKILL), all_processes=True)
                    if c.state.status == Status.PAUSED:
                        self.tasks.resume(c.id)
                except (NotFound, Unavailable):
                    pass  # the process is already gone
                self._wait_exit(c.id, gen, 30)
        with self._lock(c.id):
            c = self.store.get(c.id)
            self._cancel_restart(c.id)
            if c.state.status in RUNNING_LIKE:
                raise Conflict(f"could not kill running container {c.id}, cannot remove")
            self._save(c, transition(c.name, c.state, Ev.REMOVE))
            self._fail_pending_attaches(c.id)
            for hook in self.hooks:
                try:
                    hook.on_remove(c.id, volumes)
                except Exception:
                    log.exception("on_remove hook %s for %s", type(hook).__name__, c.id)
            self._cleanup_task(c.id)
            try:
                self.images.remove_rootfs(c.id)
            except Exception as exc:
                self._save(c, transition(c.name, c.state, Ev.DEAD))
                raise InternalError(f"unable to remove filesystem for {c.id}: {exc}") from exc
            shutil.rmtree(self.dir_of(c.id), ignore_errors=True)
            self.store.delete(c.id)
            if self.execs is not None:
                self.execs.forget_container(c.id)
        self._emit(c, "destroy")
        with self._cond:
            self._removed[c.id] = (c.state.exit_code, c.state.error)
            self._cond.notify_all()
        with self._locks_guard:
            self._locks.pop(c.id, None)

    def rename(self, ref: str, new_name: str) -> None:
        new_name = names.validate(new_name)
        c = self.store.get(ref)
        if new_name == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        self.store.rename(c.id, new_name)
        self._emit(self.store.get(c.id), "rename", oldName="/" + c.name)

    def prune(self, filters: dict[str, list[str]]) -> tuple[list[str], int]:
        deleted, space = [], 0
        for c in self.store.all():
            if c.state.status not in (Status.EXITED, Status.CREATED, Status.DEAD):
                continue
            if not _prune_match(c, filters):
                continue
            size = self.images.rootfs_size(c.id)
            try:
                self.remove(c.id)
            except (NotFound, Conflict):
                continue
            deleted.append(c.id)
            space += size
        self.events.emit("container", "prune", "", {"reclaimed": str(space)})
        return deleted, space

    # ---- reading -------------------------------------------------------------------------

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        c = self.store.get(ref)
        exec_ids = self.execs.ids_of(c.id) if self.execs is not None else []
        doc = view.inspect_doc(c, self.dir_of(c.id), self.images.graph_driver(c.id), exec_ids)
        if size:
            doc["SizeRw"] = self.images.rootfs_size(c.id)
            doc["SizeRootFs"] = doc["SizeRw"] + self.images.image_size(c.image_id)
        for hook in self.hooks:
            hook.inspect(c.id, doc)
        return doc

    def list(
        self, all: bool = False, limit: int = -1, size: bool = False,
        filters: dict[str, list[str]] | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        from berth.daemon.listing import select

        containers = select(self.store.all(), all, limit, filters or {}, self.images)
        now = time.time()
        docs = []
        for c in containers:
            doc = view.list_doc(c, now)
            if size:
                doc["SizeRw"] = self.images.rootfs_size(c.id)
                doc["SizeRootFs"] = doc["SizeRw"] + self.images.image_size(c.image_id)
            for hook in self.hooks:
                hook.inspect(c.id, doc)
            docs.append(doc)
        return docs

    # ---- I/O and resources (berth.daemon.container_io) ----------------------------------

    def logs(self, ref: str, **kw: Any) -> Iterator[bytes]:
        return container_io.logs(self, ref, **kw)

    def top(self, ref: str, ps_args: str) -> dict[str, Any]:
        return container_io.top(self, ref, ps_args)

    def changes(self, ref: str) -> list[dict[str, Any]]:
        return container_io.changes(self, ref)

    def export(self, ref: str) -> Iterator[bytes]:
        return container_io.export(self, ref)

    def archive_stat(self, ref: str, path: str) -> dict[str, Any]:
        return container_io.archive_stat(self, ref, path)

    def archive_get(self, ref: str, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
        return container_io.archive_get(self, ref, path)

    def archive_put(self, ref: str, path: str, body: Any, **kw: bool) -> None:
        container_io.archive_put(self, ref, path, body, **kw)

    def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        return container_io.update(self, ref, body)

    def stats_once(self, ref: str, one_shot: bool = False) -> dict[str, Any]:
        return container_io.stats_once(self, ref, one_shot)

    def stats_stream(self, ref: str) -> Iterator[dict[str, Any]]:
        return container_io.stats_stream(self, ref)

    def resize(self, ref: str, height: int, width: int) -> None:
        c = self.store.get(ref)
        if c.state.status not in RUNNING_LIKE:
            raise Conflict(f"Container {c.id} is not running")
        self.tasks.resize(c.id, height, width)

    def attach(self, ref: str, **kw: Any) -> Callable[[Any], None]:
        from berth.daemon.streams import attach_session

        c = self.store.get(ref)
        return attach_session(self, c, **kw)

    def image_users(self) -> dict[str, list[Any]]:
        """image id -> the containers using it (for Docker's image delete rules)."""
        from berth.image.store import ContainerUse

        out: dict[str, list[Any]] = {}
        for c in self.store.all():
            running = c.state.status in (*RUNNING_LIKE, Status.RESTARTING)
            out.setdefault(c.image_id, []).append(ContainerUse(c.id, running))
        return out

    def running_ids(self) -> set[str]:
        return {c.id for c in self.store.all() if c.state.status in RUNNING_LIKE}

    # ---- live restore --------------------------------------------------------------------

    def restore(self) -> set[str]:
        """Reconnect to shims; settle containers that exited while the daemon was away.

        Restarts this decides are held until `release_restarts`, so that the hooks'
        own restore (which tears down the network of every container not running)
        runs before any container is started again."""
        running: set[str] = set()
        self._held = []
        self._remove_orphans()
        for c in self.store.all():
            st = c.state.status
            if st in (Status.CREATED, Status.EXITED) and self.tasks.alive(c.id):
                # a start cut short by the crash: its shim holds a created, never
                # started container (runtime init, cgroup, mounted rootfs)
                self._reap_orphan(c.id)
                self._hooks_after_stop(c.id)
                self._cleanup_task(c.id)
                try:
                    self.images.unmount_rootfs(c.id)
                except Exception:
                    log.exception("unmounting the rootfs of %s", c.id)
            if st in RUNNING_LIKE:
                if self.tasks.alive(c.id):
                    running.add(c.id)
                    self._watch(c.id)
                    health.start_monitor(self, c.id)
                    continue
                info = self.tasks.exit_record(c.id) or self._reap_orphan(c.id)
                self._on_exit(c.id, info, daemon_start=True)
            elif st == Status.RESTARTING:
                self._save(c, transition(c.name, c.state, Ev.START_FAILED, error=""))
                self._held.append(functools.partial(self._restart_at_daemon_start, c.id))
            elif st == Status.REMOVING:
                try:  # the crash cut a removal short: dead, then removed again
                    self._save(c, transition(c.name, c.state, Ev.DEAD))
                    self.remove(c.id, force=True)
                except Exception:
                    log.exception("finishing the removal of %s", c.id)
            elif st == Status.EXITED:
                policy = restart.Policy.from_host_config(c.host_config)
                if restart.restart_on_daemon_start(policy, c.state.manually_stopped):
                    self._held.append(functools.partial(self._restart_at_daemon_start, c.id))
        return running

    def release_restarts(self) -> None:
        """Start what `restore` held back (restarts at daemon start, back-off timers)."""
        held, self._held = self._held or [], None
        for start in held:
            start()

    def _remove_orphans(self) -> None:
        """Directories and snapshots of containers never recorded (a crash mid-create)."""
        known = {c.id for c in self.store.all()}
        for entry in self.root.iterdir():
            if entry.name in known or len(entry.name) != 64:
                continue
            log.warning("removing %s: no container record (interrupted create)", entry.name)
            try:
                self.images.remove_rootfs(entry.name)
            except Exception:
                log.exception("removing the rootfs of %s", entry.name)
            shutil.rmtree(entry, ignore_errors=True)

    def _restart_at_daemon_start(self, cid: str) -> None:
        try:
            c = self.store.get(cid)
            if c.state.status == Status.EXITED:
                with self._lock(cid):
                    # the previous run may have ended while no daemon cleaned up after
                    # it: its shim and the runtime's state would refuse a new create
                    self._cleanup_task(cid)
                    self._runtime_delete(c)
                    self._start_locked(c, manual=False)
        except Exception:
            log.exception("restarting %s at daemon start", cid)

    def start_background(self) -> None:
        pass

    def close(self) -> None:
        self._closing = True
        for cid in list(self._timers):
            self._cancel_restart(cid)
        close = getattr(self.tasks, "close", None)
        if close is not None:
            close()


def _start_exit(message: str) -> int:
    """Docker's exit code for a failed start: 127 not found, 126 not executable."""
    low = message.lower()
    if "no such file" in low or "not found" in low:
        return 127
    if "permission denied" in low or "exec format" in low:
        return 126
    return 128


def builder_default_timeout() -> int:
    from berth.oci.defaults import STOP_TIMEOUT

    return STOP_TIMEOUT


def _size_opt(hc: dict[str, Any], key: str, default: int) -> int:
    value = (hc.get("LogConfig") or {}).get("Config", {}).get(key)
    if not value:
        return default
    t = str(value).strip().lower().rstrip("b")
    mult = {"k": 1024, "m": 1024**2, "g": 1024**3}.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in "kmg" else t) * mult)


def _prune_match(c: Container, filters: dict[str, list[str]]) -> bool:
    from berth.daemon.listing import label_match
    from berth.daemon.timefmt import parse_time_nano

    for value in filters.get("until", []):
        limit = parse_time_nano(value)
        if limit is not None and c.created > limit:
            return False
    labels = c.config.get("Labels") or {}
    if not all(label_match(labels, f) for f in filters.get("label", [])):
        return False
    return not any(label_match(labels, f) for f in filters.get("label!", []))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _resolv_conf(dns: tuple[str, ...], host_mode: bool) -> str:
    text = _read("/etc/resolv.conf")
    if host_mode:
        return text
    lines = [ln for ln in text.splitlines() if not ln.startswith("nameserver")]
    servers = list(dns) or [
        ln.split()[1]
        for ln in text.splitlines()
        if ln.startswith("nameserver") and len(ln.split()) > 1
        and not ln.split()[1].startswith(("127.", "::1"))
    ]  # fmt: skip
    if not servers:
        servers = ["8.8.8.8", "8.8.4.4"]
    return "\n".join([*lines, *(f"nameserver {s}" for s in servers)]) + "\n"


def iter_nothing() -> Iterator[bytes]:
    return iter(())

"""The runtime's operations on one container, as the CLI verbs call them.

Each function is one lifecycle operation: look up the state, ask lifecycle.py
whether the status allows it, act. `create` runs the protocol of create.py;
`delete` undoes everything `create` made (processes, cgroup, state dir).
"""

from __future__ import annotations

# `_signal`, not `signal`: the module wraps the numbers in an IntEnum, and
# `enum` costs berth-runc's start-up more than this whole module.
import _signal
import os
import time

from berth.errors import Conflict, InternalError, InvalidArgument, NotFound
from berth.runtime import jsonc, lifecycle, state
from berth.runtime.lifecycle import Op, Status
from berth.runtime.state import ContainerState

TYPE_CHECKING = False
if TYPE_CHECKING:  # the spec model is imported only by the verbs that parse it
    from berth.oci.spec import Hooks, Resources, Spec
    from berth.runtime.cgroups.interface import Manager


class Container:
    """A container's recorded state plus where it lives; `status()` observes it."""

    def __init__(self, root: str, st: ContainerState) -> None:
        self.root = root
        self.state = st
        self.dir = state.container_dir(root, st.id)

    @classmethod
    def load(cls, root: str, container_id: str) -> Container:
        return cls(root, state.load(root, container_id))

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, state.FIFO)

    def cgroup(self) -> Manager | None:
        from berth.runtime.cgroups.host import load_manager

        return load_manager(self.state.cgroup) if self.state.cgroup else None

    def status(self) -> Status:
        alive = state.alive(self.state)
        cgroup = self.cgroup() if alive else None
        frozen = cgroup.frozen() if cgroup is not None else False
        return lifecycle.observe(
            Status(self.state.status), alive, os.path.exists(self.fifo), frozen
        )

    def spec(self) -> Spec:
        from berth.oci.spec import Spec

        return Spec.from_dict(self.state.config, "config.json")

    def hooks(self) -> Hooks | None:
        """The config's hooks, or None when it has none (without parsing the rest)."""
        if not self.state.config.get("hooks"):
            return None
        return self.spec().hooks


# ---- create ---------------------------------------------------------------------------


def _resources(spec: Spec) -> Resources | None:
    """The spec's resources, plus an allow rule for each device it lists (as runc does)."""
    linux = spec.linux
    res = linux.resources
    if res is None or not res.devices:
        return res
    from berth.oci.spec import DeviceRule, replace

    extra = [DeviceRule(True, d.type, d.major, d.minor, "rwm") for d in linux.devices]
    return replace(res, devices=[*res.devices, *extra])


def create(
    root: str,
    container_id: str,
    bundle: str,
    pid_file: str | None = None,
    console_socket: str | None = None,
    reaper: bool = False,
    preserve_fds: int = 0,
    new_keyring: bool = True,
    config: dict | None = None,
) -> Container:
    """Make the container and leave its init waiting on the exec fifo.

    `reaper`: this process is a child subreaper (`run`), so the init becomes our
    child and a failed create must reap it. `config`: the bundle's config.json
    already decoded (by `run`, which looks at it first); read from the bundle
    when None.
    """
    from berth.oci.spec import Hooks, Spec
    from berth.runtime import validate
    from berth.runtime.cgroups import warm
    from berth.runtime.cgroups.host import open_manager
    from berth.runtime.create import Plan, kill_quietly, spawn_with_console
    from berth.runtime.init import init_main, preload
    from berth.runtime.messages import MountsReady, Ready, Resume, receive, send

    directory = state.container_dir(root, container_id)
    bundle = os.path.abspath(bundle)
    config_path = os.path.join(bundle, "config.json")
    if config is None:
        config = jsonc.load_file(config_path)
    spec = Spec.from_dict(config, config_path)
    validate.check_spec(spec)
    rootfs = validate.rootfs_path(spec, bundle)
    if os.path.lexists(directory):
        raise Conflict("container with given ID already exists")
    os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(directory, 0o711)
    except FileExistsError:
        raise Conflict("container with given ID already exists") from None
    st = ContainerState(
        id=container_id,
        bundle=bundle,
        rootfs=rootfs,
        created=state.now_rfc3339(),
        owner="",
        annotations=spec.annotations,
        config=config,
    )
    container = Container(root, st)
    cgroup = None
    pid = 0
    sock = -1
    try:
        cgroup = open_manager(spec.linux.cgroups_path, container_id)
        os.mkfifo(container.fifo, 0o622)
        os.chmod(container.fifo, 0o622)
        plan = Plan(container_id, spec, bundle, rootfs, directory, cgroup, console_socket)
        plan.preserve_fds = preserve_fds
        plan.new_keyring = new_keyring
        if spec.linux.seccomp is not None:
            from berth.runtime import seccomp

            plan.seccomp = seccomp.compiled(spec.linux.seccomp, root)
        preload(spec.process, plan.seccomp, spec.hooks)
        plan.fifo_fd = os.open(container.fifo, os.O_PATH | os.O_CLOEXEC)

        def prepare() -> None:
            """The cgroup and the first state, made while the container's first
            process starts (it joins the cgroup once they exist)."""
            try:
                cgroup.create(_resources(spec))
            finally:
                st.cgroup = cgroup.paths()
            state.save(directory, st)

        try:
            pid, sock = spawn_with_console(plan, init_main, prepare)
        finally:
            os.close(plan.fifo_fd)
        st.pid = pid
        st.pid_start = state.process_start_time(pid)
        hooks = spec.hooks or Hooks()
        if hooks.prestart or hooks.create_runtime:
            from berth.runtime.hooks import run_hooks

            receive(sock, MountsReady, "container init")
            oci = st.oci(Status.CREATING)
            run_hooks("prestart", hooks.prestart, oci)
            run_hooks("createRuntime", hooks.create_runtime, oci)
            send(sock, Resume())
        receive(sock, Ready, "container init")
        st.status = Status.CREATED.value
        state.save(directory, st)
        if pid_file:
            state.write_atomic(os.path.abspath(pid_file), str(pid).encode(), 0o644)
    except BaseException:
        if pid:
            kill_quietly(pid)
            _wait_gone(pid, reaper)
        if cgroup is not None:
            try:
                cgroup.destroy()
            except OSError as e:
                _warn("container %s: %s", container_id, e)
        _remove_dir(directory)
        raise
    finally:
        warm.end()
        if sock >= 0:
            os.close(sock)
    return container


def _wait_gone(pid: int, reaper: bool, timeout: float = 10.0) -> None:
    """Wait until `pid` (just sent SIGKILL) is dead; reap it when we must (`reaper`).

    A pidfd becomes readable the moment its process exits, so this wakes up
    then rather than at the next tick of a poll loop (a killed init can take
    the kernel some milliseconds to tear down its namespaces). A zombie counts
    as dead: whoever is its parent reaps it.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        import select

        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            raise InternalError(f"process {pid} did not exit after SIGKILL")
    finally:
        os.close(fd)
    if reaper:
        try:
            os.waitpid(pid, 0)  # it has exited: at once
        except ChildProcessError:
            pass  # not our child after all


def _remove_dir(directory: str) -> None:
    """Remove a state dir (flat: state.json, exec.fifo, temporary files)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass


# ---- start, kill, pause, resume -----------------------------------------------------------


def start(root: str, container_id: str) -> Container:
    """Release the init: read its byte from the exec fifo, then run poststart hooks.

    The init blocks opening the fifo for writing until we open it for reading,
    then writes one byte. Our open must not block (the init may be dead), the
    read may: it returns the byte, or EOF when no writer has the fifo open,
    which means the init died, or (rarely) it has sent Ready but not yet
    reached its open."""
    container = Container.load(root, container_id)
    lifecycle.require(Op.START, container.status(), container_id)
    return start_loaded(container)


def start_loaded(container: Container) -> Container:
    """`start` of a container this process has just created (`run`): its state is
    in memory and its status is `created`, so nothing is read back or checked."""
    container_id = container.state.id
    fd = os.open(container.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.set_blocking(fd, True)
        while (byte := os.read(fd, 1)) == b"":
            if not state.alive(container.state):
                # It may have opened, written and gone (even run its program)
                # since our read: its byte would be waiting.
                byte = os.read(fd, 1)
                if byte == b"":
                    raise Conflict("cannot start a container that has stopped")
                break
            time.sleep(0.0005)
        if byte != b"0":
            raise InternalError(f"container {container_id}: the init wrote {byte!r} on the fifo")
    finally:
        os.close(fd)
    os.unlink(container.fifo)
    hooks = container.hooks()
    if hooks is not None and hooks.poststart:
        from berth.runtime.hooks import run_hooks_logged

        run_hooks_logged("poststart", hooks.poststart, container.state.oci(Status.RUNNING))
    return container


def parse_signal(text: str) -> int:
    name = text.upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = None if name.startswith("SIG_") else getattr(_signal, name, None)
    if not isinstance(number, int):
        raise InvalidArgument(f"unknown signal {text!r}")
    return int(number)


def kill(root: str, container_id: str, signum: int, all_processes: bool = False) -> None:
    """Signal the init, or (`all_processes`) every process of the cgroup. As with
    runc, `--all` on a stopped container is no error: it signals what is left."""
    container = Container.load(root, container_id)
    status = container.status()
    if not (all_processes and status is Status.STOPPED):
        lifecycle.require(Op.KILL, status, container_id)
    cgroup = container.cgroup()
    if all_processes and cgroup is not None:
        pids = cgroup.pids()
    else:  # a stopped init's pid may be someone else's by now
        pids = [] if status is Status.STOPPED else [container.state.pid]
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def pause(root: str, container_id: str) -> None:
    container = Container.load(root, container_id)
    lifecycle.require(Op.PAUSE, container.status(), container_id)
    container.cgroup().freeze()


def resume(root: str, container_id: str) -> None:
    container = Container.load(root, container_id)
    lifecycle.require(Op.RESUME, container.status(), container_id)
    container.cgroup().thaw()


def update(root: str, container_id: str, resources: dict) -> None:
    """New cgroup limits for a created, running or paused container (runc's `update`)."""
    from berth.oci.spec import load_resources

    limits = load_resources(resources)
    container = Container.load(root, container_id)
    lifecycle.require(Op.KILL, container.status(), container_id)  # alive: same rule as kill
    container.cgroup().update(limits)


def processes(root: str, container_id: str) -> list[int]:
    container = Container.load(root, container_id)
    cgroup = container.cgroup()
    return cgroup.pids() if cgroup is not None else []


# ---- delete ---------------------------------------------------------------------------


def delete(root: str, container_id: str, force: bool = False, reaper: bool = False) -> None:
    """Kill what is left (created containers, or anything with `force`), remove the
    cgroup and the state dir, then run poststop hooks."""
    try:
        container = Container.load(root, container_id)
    except NotFound:
        directory = state.container_dir(root, container_id)
        if force:
            _remove_dir(directory)
            return
        if os.path.isdir(directory):  # a create that died half-way: nothing to wait for
            _remove_dir(directory)
            return
        raise
    delete_loaded(container, force, reaper)


def delete_loaded(container: Container, force: bool = False, reaper: bool = False) -> None:
    """`delete` of a container whose state this process holds (`run` deletes what
    it created without reading the state back)."""
    status = container.status()
    lifecycle.require(Op.FORCE_DELETE if force else Op.DELETE, status, container.state.id)
    cgroup = container.cgroup()
    if status is not Status.STOPPED or (cgroup is not None and cgroup.pids()):
        _kill_everything(container, cgroup, reaper)
    if cgroup is not None:
        cgroup.destroy()
    hooks = container.hooks()
    _remove_dir(container.dir)
    if hooks is not None and hooks.poststop:
        from berth.runtime.hooks import run_hooks_logged

        run_hooks_logged("poststop", hooks.poststop, container.state.oci(Status.STOPPED))


def _kill_everything(container: Container, cgroup, reaper: bool) -> None:
    pids = set(cgroup.pids()) if cgroup is not None else set()
    if state.alive(container.state):
        pids.add(container.state.pid)
    for pid in pids:
        try:
            os.kill(pid, _signal.SIGKILL)
        except ProcessLookupError:
            pass
    if cgroup is not None and cgroup.frozen():
        cgroup.thaw()  # a frozen task takes its SIGKILL only once thawed
    if state.alive(container.state):
        _wait_gone(container.state.pid, reaper)
    deadline = time.monotonic() + 10
    while cgroup is not None and cgroup.pids():
        if time.monotonic() > deadline:
            raise InternalError(f"container {container.state.id}: processes survive SIGKILL")
        time.sleep(0.002)


# ---- listing ----------------------------------------------------------------------------


def list_all(root: str) -> list[tuple[Container, Status]]:
    out = []
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    for name in names:
        try:
            container = Container.load(root, name)
        except (NotFound, InvalidArgument, ValueError):
            continue
        out.append((container, container.status()))
    return out


def _warn(fmt: str, *args: object) -> None:
    """Log a warning; `logging` is imported only when there is one (start-up time)."""
    import logging

    logging.getLogger(__name__).warning(fmt, *args)

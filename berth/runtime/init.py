"""The container's init process: steps 6-14 of create.py's protocol.

Everything here runs in a forked child inside the container's namespaces and
ends in exec or `os._exit`; errors before `Ready` go back to the runtime as
`Failed`, errors after it (the runtime is gone by then) go to the container's
stderr with exit status 127, like a failed exec.
"""

from __future__ import annotations

import errno
import os
import sys

from berth.linux import process as prc
from berth.linux.fds import execveat, sealed_memfd
from berth.linux.keys import join_session_keyring
from berth.oci.spec import Hooks, Process
from berth.runtime import identity, rootfs
from berth.runtime import messages as msg
from berth.runtime.create import Plan, fail_child, wait_turn
from berth.runtime.execstub import image
from berth.runtime.fdutil import close_all_except


class Prepared:
    """What the init keeps between its setup and its exec."""

    def __init__(
        self, process: Process, executable: str, env: list[str], seccomp_filter, stub: int
    ) -> None:
        self.process = process
        self.executable = executable
        self.env = env
        self.seccomp = seccomp_filter  # seccomp.Compiled, loaded just before the exec
        self.stub = stub  # fd of the sealed exec stub, -1 where there is none
        self.keep: set[int] = set()  # --preserve-fds


def preload(process: Process, seccomp_filter, hooks: Hooks | None) -> None:
    """Import (and load) now whatever the child processes will need later.

    After pivot_root or setns into the container's mount namespace the host's
    Python library is out of reach, so a lazy import there would fail. Called
    by the runtime before it forks.
    """
    if process.terminal:
        import fcntl  # noqa: F401
        import socket  # noqa: F401
        import struct  # noqa: F401
        import termios  # noqa: F401
    if seccomp_filter is not None:
        from berth.linux import seccomp  # noqa: F401 - its load_program
    if hooks is not None and (hooks.create_container or hooks.start_container):
        import subprocess  # noqa: F401

        from berth.runtime import hooks as hooks_module  # noqa: F401


def init_main(plan: Plan, sock: int) -> None:
    fifo = plan.fifo_fd
    try:
        os.setsid()
        console = plan.console_fd if plan.console_fd >= 0 else None
        close_all_except({sock, fifo, plan.console_fd, plan.hold_fd, *preserved(plan)})
        if plan.new_keyring:
            join_keyring(f"_ses.{plan.id}")
        # /proc is still the host's here: its "self" is our pid as the hooks must see it.
        plan.host_pid = int(os.readlink("/proc/self"))
        prepared = setup_container(plan, sock, console)
        prepared.keep = preserved(plan)
        wait_turn(plan)
        msg.send(sock, msg.Ready())
        os.close(sock)
    except BaseException as e:  # never unwind into the CLI's code
        try:
            wait_turn(plan)
        finally:
            fail_child(sock, e)
    try:
        wait_for_start(fifo)
        hooks = plan.spec.hooks or Hooks()
        if hooks.start_container:
            from berth.runtime.hooks import run_hooks

            run_hooks("startContainer", hooks.start_container, hook_state(plan, "running"))
        exec_program(prepared)
    except BaseException as e:
        _die(e)


def join_keyring(name: str) -> None:
    """The container does not share the runtime's session keyring (as runc: a kernel
    without keyrings, or a full key quota, leaves the inherited one)."""
    try:
        join_session_keyring(name)
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EDQUOT, errno.EACCES):
            raise


def _die(error: BaseException) -> None:
    try:
        os.write(2, f"berth-runc init: {error}\n".encode())
    finally:
        os._exit(127)


def preserved(plan) -> set[int]:
    """The caller's fds that --preserve-fds N passes through: 3 .. 3+N-1."""
    return set(range(3, 3 + plan.preserve_fds))


def hook_state(plan: Plan, status: str) -> dict:
    """The runtime-spec state object, as hooks inside the container receive it."""
    state = {
        "ociVersion": "1.0.2",
        "id": plan.id,
        "status": status,
        "pid": plan.host_pid,
        "bundle": plan.bundle,
    }
    if plan.spec.annotations:
        state["annotations"] = plan.spec.annotations
    return state


def wait_for_start(fifo: int) -> None:
    """Block until `berth-runc start` opens the fifo for reading, then tell it we go."""
    fd = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(fd, b"0")
    os.close(fd)
    os.close(fifo)


def setup_container(plan: Plan, sock: int, console: int | None) -> Prepared:
    spec = plan.spec
    linux = spec.linux
    root_propagation = linux.rootfs_propagation if linux else None
    rootfs.prepare_root(plan.rootfs, root_propagation)
    rootfs.mount_all(spec, plan.rootfs, plan.bundle, plan.cgroup.mount_sources(), plan.new_cgroupns)
    rootfs.create_devices(plan.rootfs, linux.devices if linux else [], plan.in_userns)
    hooks = spec.hooks or Hooks()
    if hooks.prestart or hooks.create_runtime:
        wait_turn(plan)
        msg.send(sock, msg.MountsReady())
        msg.receive(sock, msg.Resume, "runtime")
    if hooks.create_container:
        from berth.runtime.hooks import run_hooks

        run_hooks("createContainer", hooks.create_container, hook_state(plan, "creating"))
    rootfs.pivot_into(plan.rootfs)
    process = spec.process
    if process.terminal:
        open_terminal(process, console)
    elif console is not None:
        os.close(console)
    if linux:
        write_sysctls(linux.sysctl)
        rootfs.readonly_paths(linux.readonly_paths)
        rootfs.mask_paths(linux.masked_paths)
    rootfs.finish_root(root_propagation, spec.root.readonly)
    if spec.hostname is not None:
        prc.sethostname(spec.hostname)
    if spec.domainname is not None:
        prc.setdomainname(spec.domainname)
    return prepare_process(process, plan.seccomp)


def prepare_process(process: Process, seccomp_filter) -> Prepared:
    """Limits, identity, cwd and the program's path: everything up to the exec."""
    identity.set_rlimits(process.rlimits)
    if process.oom_score_adj is not None:
        identity.set_oom_score_adj(process.oom_score_adj)
    env = identity.environment(process)
    # Made before any seccomp filter is loaded, which might forbid memfd_create.
    elf = image()
    stub = sealed_memfd("berth-exec", elf, executable=True) if elf else -1
    if seccomp_filter is not None and not process.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
        seccomp_filter.load()
        seccomp_filter = None
    identity.become_user(process)
    if process.user.umask is not None:
        os.umask(process.user.umask)
    else:
        os.umask(0o022)
    enter_cwd(process.cwd)
    executable = identity.find_executable(process.args[0], env)
    return Prepared(process, executable, env, seccomp_filter, stub)


def enter_cwd(cwd: str) -> None:
    try:
        os.chdir(cwd)
        here = os.getcwd()
    except OSError as e:
        raise OSError(
            e.errno, f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}"
        ) from None
    if not here.startswith("/"):
        raise OSError(1, f"cwd {cwd!r} is outside the container's root")


def write_sysctls(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        if ".." in key or "/" in key:
            raise OSError(22, f"invalid sysctl {key}")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise OSError(e.errno, f"sysctl {key}={value}: {e.strerror}") from None


def open_terminal(process: Process, console: int | None, bind_console: bool = True) -> None:
    """A pty from the container's devpts: master to the console socket, slave as stdio."""
    import fcntl
    import struct
    import termios

    from berth.linux.fds import send_fd_on

    if console is None:
        raise OSError(22, "process.terminal is set but no --console-socket was given")
    master, slave = os.openpty()
    if process.console_size is not None:
        size = struct.pack("HHHH", process.console_size.height, process.console_size.width, 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    slave_path = os.ttyname(slave)
    send_fd_on(console, master, b"/dev/ptmx")
    os.close(console)
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if bind_console:
        rootfs.bind_console(slave_path)


def default_signals() -> None:
    """Every signal back to its default action and unblocked, as runc leaves them:
    an exec keeps ignored dispositions, and Python ignores SIGPIPE and SIGXFSZ (and the
    shim or berthd may ignore others), which would change how `yes | head` ends."""
    import _signal

    for signum in range(1, _signal.NSIG):
        if signum in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(signum, _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            continue  # the C library's own real-time signals (32, 33)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def exec_program(prepared: Prepared) -> None:
    """No new privileges, seccomp (when deferred), fds closed, then exec via the stub."""
    process = prepared.process
    if process.no_new_privileges:
        prc.set_no_new_privs()
    default_signals()
    if prepared.seccomp is not None:
        prepared.seccomp.load()
    sys.stdout.flush()
    close_all_except({prepared.stub, *prepared.keep})
    if prepared.stub >= 0:
        try:
            execveat(
                prepared.stub, ["berth-exec", prepared.executable, *process.args], prepared.env
            )
        except OSError:  # execveat refused (a seccomp profile may forbid it): exec directly
            os.close(prepared.stub)
    env = dict(e.split("=", 1) for e in prepared.env if "=" in e)
    os.execve(prepared.executable, process.args, env)

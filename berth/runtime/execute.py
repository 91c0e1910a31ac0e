"""`exec`: a new process in a running container's namespaces and cgroup.

The same protocol as create.py, minus the rootfs and the fifo: the runtime
forks an intermediate that joins the container's cgroup and setns into each of
the init's namespaces (/proc/<init>/ns/*; the pid namespace applies to its
children), then forks the process, which sets up its terminal, limits, identity
and seccomp, reports `Ready`, and execs through the sealed stub.
"""

from __future__ import annotations

import os

from berth.linux import namespaces as ns
from berth.oci.spec import Process
from berth.runtime import lifecycle
from berth.runtime import messages as msg
from berth.runtime.container import Container
from berth.runtime.create import fail_child, wait_turn
from berth.runtime.fdutil import close_all_except
from berth.runtime.init import _die, exec_program, open_terminal, prepare_process, preserved
from berth.runtime.lifecycle import Op


class ExecPlan:
    """What the forked processes of an exec need (shaped like create.Plan for `spawn`)."""

    def __init__(self, container: Container, process: Process, console_socket: str | None) -> None:
        spec = container.spec()
        self.id = container.state.id
        self.spec = spec
        self.process = process
        self.console_socket = console_socket
        self.cgroup = container.cgroup()
        pid = container.state.pid
        self.join = [
            (n.type, f"/proc/{pid}/ns/{ns.PROC_NAMES[n.type]}") for n in spec.linux.namespaces
        ]
        self.new_flags = 0
        self.new_userns = False
        self.in_userns = any(t == "user" for t, _ in self.join)
        # Joined by the intermediate before it enters the container's mount
        # namespace: the exec'd process must never run outside the cgroup.
        self.join_cgroup_early = True
        self.preserve_fds = 0
        self.console_fd = -1
        self.hold_fd = -1  # see create.intermediate and create.wait_turn
        self.seccomp = None  # seccomp.Compiled: the container's filter, compiled before the fork


def exec_main(plan: ExecPlan, sock: int) -> None:
    """The exec'd process: runs in the container's namespaces; never returns."""

    try:
        os.setsid()
        console = plan.console_fd if plan.console_fd >= 0 else None
        close_all_except({sock, plan.console_fd, plan.hold_fd, *preserved(plan)})
        if plan.process.terminal:
            open_terminal(plan.process, console, bind_console=False)
        elif console is not None:
            os.close(console)
        prepared = prepare_process(plan.process, plan.seccomp)
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
        exec_program(prepared)
    except BaseException as e:
        _die(e)


def execute(
    root: str,
    container_id: str,
    process: Process,
    console_socket: str | None,
    pid_file: str | None,
    detach: bool,
    preserve_fds: int = 0,
) -> int:
    """Start `process` in the container; wait for it unless `detach`. Returns the exit code."""
    from berth.linux import process as prc
    from berth.runtime import runner, state
    from berth.runtime.cgroups import warm
    from berth.runtime.create import spawn_with_console
    from berth.runtime.init import preload

    container = Container.load(root, container_id)
    lifecycle.require(Op.EXEC, container.status(), container_id)
    plan = ExecPlan(container, process, console_socket)
    plan.preserve_fds = preserve_fds
    if plan.spec.linux.seccomp is not None:
        from berth.runtime import seccomp

        plan.seccomp = seccomp.compiled(plan.spec.linux.seccomp, root)
    preload(process, plan.seccomp, None)
    if not detach:
        prc.set_child_subreaper()
    pid, sock = spawn_with_console(plan, exec_main)
    warm.end()  # the process is in the container's cgroup: cli.cmd_exec's keeper can stop
    try:
        msg.receive(sock, msg.Ready, "exec process")
    finally:
        os.close(sock)
    if pid_file:
        state.write_atomic(os.path.abspath(pid_file), str(pid).encode(), 0o644)
    if detach:
        return 0
    runner.forward_signals(pid)
    return runner.wait_exit_code(pid)

"""`run` and the foreground half of `exec`: wait for a process that is our child
(or grandchild: we are a child subreaper, so it is reparented to us when its
parent, the intermediate process of user namespaces, exits), forwarding
signals to it."""

from __future__ import annotations

# The C half of `signal`: the module itself wraps every number in an IntEnum,
# and importing `enum` costs berth-runc more than the rest of this file does.
import _signal
import os

from berth.runtime import jsonc

FORWARDED = (
    _signal.SIGHUP,
    _signal.SIGINT,
    _signal.SIGQUIT,
    _signal.SIGTERM,
    _signal.SIGUSR1,
    _signal.SIGUSR2,
    _signal.SIGWINCH,
)


def forward_signals(pid: int) -> None:
    def relay(signum: int, _frame) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        _signal.signal(signum, relay)


def exit_code(status: int) -> int:
    """A wait status as a shell shows it: the exit code, or 128+N after signal N."""
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def wait_exit_code(pid: int) -> int:
    """Reap children until `pid` exits; its exit code, or 128+N if signal N killed it."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        if done == pid:
            return exit_code(status)


def run(
    root: str,
    container_id: str,
    bundle: str,
    pid_file: str | None,
    console_socket: str | None,
    detach: bool,
    preserve_fds: int = 0,
) -> int:
    """create + start + wait + delete, exiting with the container's code."""
    from berth.linux import process as prc
    from berth.runtime import container

    prc.set_child_subreaper()
    config = jsonc.load_file(os.path.join(bundle, "config.json"))
    console = None
    if console_socket is None and not detach and _wants_terminal(config):
        from berth.runtime.console import ConsoleServer

        os.makedirs(root, mode=0o700, exist_ok=True)
        console = ConsoleServer(os.path.join(root, f".{container_id}.console.sock"))
        console_socket = console.path
    try:
        created = container.create(
            root, container_id, bundle, pid_file, console_socket, True, preserve_fds, config=config
        )
        master = console.receive() if console is not None else -1
    finally:
        if console is not None:
            console.close()
    pid = created.state.pid
    forward_signals(pid)
    try:
        container.start_loaded(created)
    except BaseException:
        container.delete_loaded(created, force=True, reaper=True)
        raise
    if detach:
        return 0
    if master >= 0:
        from berth.runtime.console import copy_size, relay

        copy_size(master)
        code = relay(master, pid)
        os.close(master)
    else:
        code = wait_exit_code(pid)
    container.delete_loaded(created, force=True, reaper=True)
    return code


def _wants_terminal(config: object) -> bool:
    """Whether config.json asks for a terminal (looked at before `create` parses it;
    anything malformed is create's to report)."""
    try:
        return config.get("process", {}).get("terminal") is True
    except AttributeError:
        return False

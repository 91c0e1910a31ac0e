"""Creating a container: the protocol between berth-runc and the processes it forks.

Three processes take part. They share one SOCK_SEQPACKET socketpair and speak
the typed messages of messages.py; any step that fails sends `Failed(reason)`
and exits, and the runtime undoes everything it made.

  runtime (berth-runc create)     intermediate                   init (the container's PID 1)
  1. spec checked, state dir,
     exec.fifo made; fork; then
     the cgroup with its limits,
     state.json; CgroupReady ───▶ 2. join the cgroup*; setns into
                                     namespaces given by path;
                                     unshare the new ones (pid ns
                                     applies to children only)
                                  3. new user ns? MapIds ──▶
  4. write uid_map, gid_map;
     IdsMapped ─────────────────▶ 5. become root in the user ns;
                                     fork ─────────────────────────▶ 6. setsid; close inherited fds
                                  InitPid(pid), exit (the init          but exec.fifo's (opened by the
  7. reap the intermediate;       sends nothing before that exit)       runtime) and the console
     move the init into the                                             socket it connected
     cgroup*                                                          8. rootfs: mounts, devices
                                                                      9. MountsReady (only with
  10. prestart + createRuntime  ◀─────────────────────────────────────   prestart/createRuntime hooks)
      hooks; Resume ───────────────────────────────────────────────▶ 11. createContainer hooks;
                                                                          pivot_root; pty; sysctl;
                                                                          read-only and masked paths;
                                                                          hostname; rlimits; user and
                                                                          capabilities; cwd
  12. write state.json, pid file ◀──────────────────────────── Ready  13. block opening exec.fifo for
      (status created); exit                                             writing ...
  `berth-runc start` opens exec.fifo for reading: the init's open returns;
                                                                      14. startContainer hooks; seccomp
                                                                          (with noNewPrivileges); exec the
                                                                          program through the sealed stub
                                                                          (execstub.py)

* On cgroup v1 (and whenever the container gets a new cgroup namespace, which
must be rooted there) the intermediate joins the cgroup itself, so the init is
born in it; moving oneself is cheap on v1 (v1.Manager.join_self). On v2 the
runtime moves the init in at step 7 instead, overlapping the kernel's slow
first cgroup migration with the init's rootfs work. Either way the init is in
its cgroup before `create` returns, long before it can exec.

Without a user or time namespace (the common case) there is no intermediate:
the runtime enters the new (or joined) pid namespace for its children just
around one fork and goes back to its own, and the child does steps 2 and 6
itself, as the init (`spawn_direct`): one fork and one process fewer.

The init is non-dumpable from its birth to its exec, so nothing in the
container can open /proc/<init>/exe or its fds. Every fd it inherited is closed
first, and the program's cwd is checked to be inside the new root.
`exec` (execute.py) follows the same protocol without rootfs and fifo.
"""

from __future__ import annotations

import os
import sys

from berth.errors import BerthError
from berth.linux import namespaces as ns
from berth.linux import process as prc
from berth.linux.fds import seqpacket_pair
from berth.oci.spec import Spec
from berth.runtime import messages as msg


class Plan:
    """What `create` decided before forking: everything the child processes need."""

    def __init__(
        self,
        container_id: str,
        spec: Spec,
        bundle: str,
        rootfs: str,
        state_dir: str,
        cgroup,
        console_socket: str | None,
    ) -> None:
        self.id = container_id
        self.spec = spec
        self.bundle = bundle
        self.rootfs = rootfs
        self.state_dir = state_dir
        self.cgroup = cgroup
        self.console_socket = console_socket
        self.host_pid = 0  # the init's pid in the runtime's pid namespace, once known
        # exec.fifo opened (O_PATH) by the runtime: the init may not be able to
        # reach the state dir itself (user namespaces), so it inherits this.
        self.fifo_fd = -1
        self.preserve_fds = 0  # fds 3 .. 3+N-1 of the caller pass into the container
        # The console socket, connected by the runtime: the path may not be
        # reachable from the container's namespaces (exec, user namespaces).
        self.console_fd = -1
        self.new_keyring = True  # a session keyring of its own (--no-new-keyring: keep ours)
        self.seccomp = None  # seccomp.Compiled: the filter, compiled before the fork
        # In the init: the pipe whose EOF says the intermediate has sent InitPid
        # and exited (see `intermediate`); -1 once seen.
        self.hold_fd = -1
        linux = spec.linux
        namespaces = linux.namespaces if linux else []
        self.join = [(n.type, n.path) for n in namespaces if n.path]
        self.new_flags = 0
        for n in namespaces:
            if not n.path:
                self.new_flags |= ns.FLAGS[n.type]
        self.new_userns = bool(self.new_flags & ns.CLONE_NEWUSER)
        self.in_userns = self.new_userns or any(t == "user" for t, _ in self.join)
        self.new_cgroupns = bool(self.new_flags & ns.CLONE_NEWCGROUP)
        # The container's first process (the intermediate, or the init itself
        # without one) joins the cgroup itself when it can do so cheaply (cgroup
        # v1: see v1.Manager.join_self) or must (a cgroup namespace is rooted
        # where it unshares). Otherwise (v2) the runtime moves the init in by pid
        # while the init builds its rootfs, since that move can take the kernel
        # milliseconds (the init cannot exec before `start`).
        self.join_cgroup_early = self.new_cgroupns or cgroup.cheap_self_join


def wait_turn(plan) -> None:
    """In the init, before its first message: wait until the intermediate is gone."""
    if plan.hold_fd >= 0:
        os.read(plan.hold_fd, 1)  # EOF once the intermediate has exited
        os.close(plan.hold_fd)
        plan.hold_fd = -1


def fail_child(sock: int, error: BaseException) -> None:
    """Report `error` to the runtime and end this (forked) process."""
    try:
        reason = str(error) if isinstance(error, BerthError | OSError) else repr(error)
        msg.send(sock, msg.Failed(reason))
    finally:
        os._exit(1)


def join_namespaces(join: list[tuple[str, str]]) -> None:
    """setns into each namespace given by path. All are opened first (joining the
    mount namespace changes what /proc shows), and the user namespace is joined
    last, so the others are joined with the host's privileges."""
    opened: list[tuple[str, str, int]] = []
    try:
        for kind, path in sorted(join, key=lambda j: j[0] == "user"):
            try:
                opened.append((kind, path, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
            except OSError as e:
                raise OSError(e.errno, f"open namespace {kind} {path}: {e.strerror}") from None
        for kind, path, fd in opened:
            ns.setns(fd, ns.FLAGS[kind], f"{kind} namespace {path}")
    finally:
        for _, _, fd in opened:
            os.close(fd)


def write_id_maps(pid: int, spec: Spec) -> None:
    linux = spec.linux
    for name, mappings in (("gid_map", linux.gid_mappings), ("uid_map", linux.uid_mappings)):
        text = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in mappings)
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(text)
        except OSError as e:
            raise OSError(e.errno, f"write {name} of pid {pid}: {e.strerror}") from None


def intermediate(plan: Plan, sock: int, init_main) -> None:
    """Steps 2-5: runs in the first child; never returns."""
    try:
        prc.set_dumpable(False)
        msg.receive(sock, msg.CgroupReady, "runtime")
        if plan.join_cgroup_early:
            plan.cgroup.join_self()
        join_namespaces(plan.join)
        if plan.new_flags:
            ns.unshare(plan.new_flags)
        if plan.new_userns:
            msg.send(sock, msg.MapIds(os.getpid()))
            msg.receive(sock, msg.IdsMapped, "runtime")
        if plan.in_userns:
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        # Both this process and the init write to the same socket, and InitPid
        # must come first: the init sets up its container right away but sends
        # its first message only once this process is gone (EOF on `hold`).
        hold, release = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(release)
            plan.hold_fd = hold
            init_main(plan, sock)  # never returns
        os.close(hold)
        msg.send(sock, msg.InitPid(pid))
        os._exit(0)
    except BaseException as e:  # a forked child must never unwind into the CLI
        fail_child(sock, e)


def needs_intermediate(plan) -> bool:
    """Whether the init must be forked by an intermediate process: when a user
    namespace (which must own the pid namespace, and whose id maps the runtime
    writes in between) or a time namespace (which, like the pid namespace,
    only a process's children enter) is new or joined. Otherwise the runtime
    forks the init itself (see `spawn_direct`)."""
    kinds = {kind for kind, _ in plan.join}
    return bool(
        plan.in_userns or "time" in kinds or plan.new_flags & (ns.CLONE_NEWUSER | ns.CLONE_NEWTIME)
    )


def spawn(plan: Plan, init_main, prepare=None) -> tuple[int, int]:
    """Steps 1-7 on the runtime's side: fork, map ids, learn the init's pid.

    `prepare()` (create: make the cgroup, save the state) runs right after the
    fork, while the child starts; the child joins the cgroup once it is told
    (CgroupReady). Returns (init pid, the runtime's end of the socketpair). On
    failure the children are gone (or will be when the socket closes) and it raises.
    """
    ours, theirs = seqpacket_pair()
    sys.stdout.flush()
    sys.stderr.flush()
    if not needs_intermediate(plan):
        return spawn_direct(plan, init_main, ours, theirs, prepare)
    child = os.fork()
    if child == 0:
        os.close(ours)
        intermediate(plan, theirs, init_main)
    os.close(theirs)
    init = None
    try:
        if prepare is not None:
            prepare()
        msg.send(ours, msg.CgroupReady())
        if plan.new_userns:
            mapping = msg.receive(ours, msg.MapIds, "intermediate process")
            write_id_maps(mapping.pid, plan.spec)
            msg.send(ours, msg.IdsMapped())
        init = msg.receive(ours, msg.InitPid, "intermediate process")
        if not plan.join_cgroup_early:
            plan.cgroup.add(init.pid)
    except BaseException:
        os.close(ours)
        _reap(child)
        if init is not None:
            kill_quietly(init.pid)
        raise
    _reap(child)
    return init.pid, ours


# Namespaces the container's first process may enter before it is in its cgroup
# (while the runtime makes the cgroup): none changes the paths of the cgroupfs.
_BEFORE_CGROUP = ns.CLONE_NEWNS | ns.CLONE_NEWNET | ns.CLONE_NEWIPC | ns.CLONE_NEWUTS
_JOINED_BEFORE_CGROUP = frozenset({"network", "ipc", "uts"})


def spawn_direct(plan, init_main, ours: int, theirs: int, prepare=None) -> tuple[int, int]:
    """The common case (no user or time namespace): one fork instead of two.

    A process enters a pid namespace for its children only, which is why the
    protocol has an intermediate process. Without a user namespace the runtime
    can do that itself: it unshares (or joins) the pid namespace for its
    children just around the fork, then goes back to its own; the child, born
    as the container's PID 1, joins its cgroup and the other namespaces itself
    (steps 2 and 6 in one process). There is no InitPid message: the fork
    returns the pid. The child makes its new network, mount, ipc and uts
    namespaces (a network namespace takes the kernel most of a millisecond)
    while the runtime makes the cgroup (`prepare`), then joins the cgroup.
    """
    child = fork_in_pid_namespace(plan)
    if child == 0:
        os.close(ours)
        try:
            prc.set_dumpable(False)
            join_namespaces([j for j in plan.join if j[0] in _JOINED_BEFORE_CGROUP])
            if plan.new_flags & _BEFORE_CGROUP:
                ns.unshare(plan.new_flags & _BEFORE_CGROUP)
            msg.receive(theirs, msg.CgroupReady, "runtime")
            if plan.join_cgroup_early:
                plan.cgroup.join_self()
            join_namespaces(
                [j for j in plan.join if j[0] != "pid" and j[0] not in _JOINED_BEFORE_CGROUP]
            )
            rest = plan.new_flags & ~(ns.CLONE_NEWPID | _BEFORE_CGROUP)
            if rest:
                ns.unshare(rest)
        except BaseException as e:  # a forked child must never unwind into the CLI
            fail_child(theirs, e)
        init_main(plan, theirs)  # never returns
    os.close(theirs)
    try:
        if prepare is not None:
            prepare()
        msg.send(ours, msg.CgroupReady())
        if not plan.join_cgroup_early:
            plan.cgroup.add(child)  # v2: while the init builds its rootfs
    except BaseException:
        os.close(ours)
        kill_quietly(child)
        _reap(child)
        raise
    return child, ours


def fork_in_pid_namespace(plan) -> int:
    """os.fork(), the child born in the container's pid namespace: a new one, the
    one given by path, or (without either) ours."""
    target = next((path for kind, path in plan.join if kind == "pid"), None)
    if target is None and not plan.new_flags & ns.CLONE_NEWPID:
        return os.fork()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if target is None:
            ns.unshare(ns.CLONE_NEWPID)
        else:
            join_namespaces([("pid", target)])
        pid = -1
        try:
            pid = os.fork()
        finally:
            if pid != 0:  # the runtime's later children (hooks) stay in its namespace
                ns.setns(own, ns.CLONE_NEWPID, "the runtime's own pid namespace")
        return pid
    finally:
        os.close(own)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def spawn_with_console(plan, child_main, prepare=None) -> tuple[int, int]:
    """`spawn`, with plan.console_socket (if any) connected for the children to
    inherit and closed in this process afterwards."""
    if not plan.console_socket:
        return spawn(plan, child_main, prepare)
    from berth.linux.fds import connect_unix

    plan.console_fd = connect_unix(plan.console_socket)
    try:
        return spawn(plan, child_main, prepare)
    finally:
        os.close(plan.console_fd)


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, 9)  # SIGKILL (the `signal` module would import `enum`)
    except ProcessLookupError:
        pass

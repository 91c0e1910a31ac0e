"""Paying the kernel's slow first cgroup move while Python still imports.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's
global cgroup_threadgroup_rwsem for writing. After a quiet spell that first
write waits for a whole RCU grace period (10-15 ms on this host, the largest
single cost of a container start); writes that follow within about a grace
period are fast. `begin()` starts a thread that rewrites this process's pid into
the cgroup it is already in (a move that changes nothing) every millisecond
until `end()`, so the grace period elapses while `create` imports and parses,
and the container's real move finds the fast path.

Needed on cgroup v2 hosts only: where any v1 controller is mounted (pure v1
and hybrid hosts) the runtime uses v1, whose processes join by moving their
own thread, which needs no grace period (v1.Manager.join_self).

Only `os`, `_thread`, `time` and a constant here: this runs before the rest of the
runtime is imported. Anything unexpected (no cgroupfs, a nested mount whose
root is not the hierarchy's) means no thread, never an error.
"""

from __future__ import annotations

import _thread
import os
import time

from berth.runtime.cgroups.mounts import V1_CONTROLLERS

# The thread ends by itself after this long if `end()` never comes.
LIMIT_S = 2.0
PERIOD_S = 0.001

_current: list[bool] = [False]  # the running keeper's [keep going?]


def own_procs_file() -> str | None:
    """cgroup.procs of the cgroup this process is in, in the first hierarchy found;
    None on a host with cgroup v1 controllers, where no keeper is needed."""
    own: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _hid, key, path = line.rstrip("\n").split(":", 2)
            own[key] = path
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _source, options = [*right.split(), "", "", ""][:3]
            fields = left.split()
            if fstype == "cgroup" and not V1_CONTROLLERS.isdisjoint(options.split(",")):
                return None
            if fstype != "cgroup2":
                continue
            key = ""
            if fields[3] != "/" or key not in own or "\\" in fields[4]:
                continue
            path = fields[4] + own[key].rstrip("/") + "/cgroup.procs"
            if os.path.exists(path):
                return path
    return None


def _keep(path: str, flag: list[bool]) -> None:
    pid = str(os.getpid()).encode()
    deadline = time.monotonic() + LIMIT_S
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        while flag[0] and time.monotonic() < deadline:
            os.write(fd, pid)
            time.sleep(PERIOD_S)
    except OSError:
        pass
    finally:
        os.close(fd)


def begin() -> None:
    """Start a keeper thread (unless one runs); without a usable cgroupfs, do nothing."""
    global _current
    if _current[0]:
        return
    try:
        path = own_procs_file()
    except (OSError, ValueError):
        return
    if path is not None:
        _current = [True]
        _thread.start_new_thread(_keep, (path, _current))


def end() -> None:
    """Stop the keeper: the container's own move is done (or will not happen)."""
    _current[0] = False

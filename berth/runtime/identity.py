"""The process's identity and limits, applied by the container's init (and by
`exec`) just before it runs the user's program: rlimits, OOM score, umask,
uid/gid/groups, the five capability sets, and the executable's path."""

from __future__ import annotations

import os

from berth.errors import InvalidArgument
from berth.linux import capabilities as caps
from berth.linux import process as prc
from berth.oci.spec import Capabilities, Process, Rlimit


def set_rlimits(rlimits: list[Rlimit]) -> None:
    for r in rlimits:
        if r.type not in prc.RLIMITS:
            raise InvalidArgument(f"unknown rlimit type {r.type}")
        prc.setrlimit(r.type, r.soft, r.hard)


def set_oom_score_adj(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        raise OSError(e.errno, f"set oom_score_adj {value}: {e.strerror}") from None


def home_of(uid: int) -> str:
    """The uid's home from the container's /etc/passwd, "/" if it has none."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def environment(process: Process) -> list[str]:
    """The process's env, with HOME added from /etc/passwd when the spec has none."""
    env = list(process.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home_of(process.user.uid)}")
    return env


def find_executable(name: str, env: list[str]) -> str:
    """The program's path as exec would find it, using the container's PATH."""
    if "/" in name:
        if not os.path.exists(name):
            raise InvalidArgument(f'exec: "{name}": stat {name}: no such file or directory')
        if not (os.path.isfile(name) and os.access(name, os.X_OK)):
            raise InvalidArgument(f'exec: "{name}": permission denied')
        return name
    path = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/local/bin:/usr/bin:/bin")
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise InvalidArgument(f'exec: "{name}": executable file not found in $PATH')


def _numbers(names: list[str], known: int) -> set[int]:
    out = set()
    for name in names:
        number = caps.NUMBERS.get(name.upper())
        if number is None:
            raise InvalidArgument(f"unknown capability {name!r}")
        if number <= known:  # newer than this kernel: ignored, as runc does
            out.add(number)
    return out


def become_user(process: Process, in_userns_without_setgroups: bool = False) -> None:
    """Drop to the process's uid/gid/groups and capability sets, in the only order that
    works: bounding set (needs CAP_SETPCAP), ids (keeping permitted caps), then
    capset, then ambient."""
    c = process.capabilities or Capabilities()
    last = caps.last_cap()
    bounding = _numbers(c.bounding, last)
    for number in range(last + 1):
        if number not in bounding:
            caps.drop_bounding(number)
    user = process.user
    prc.set_keepcaps(True)
    if not in_userns_without_setgroups:
        try:
            os.setgroups(user.additional_gids)
        except OSError as e:
            raise OSError(e.errno, f"setgroups {user.additional_gids}: {e.strerror}") from None
    try:
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
    except OSError as e:
        raise OSError(e.errno, f"set uid {user.uid} gid {user.gid}: {e.strerror}") from None
    caps.capset(
        caps.mask(_numbers(c.effective, last)),
        caps.mask(_numbers(c.permitted, last)),
        caps.mask(_numbers(c.inheritable, last)),
    )
    prc.set_keepcaps(False)
    # The kernel takes an ambient capability only if it is permitted and
    # inheritable; like runc, the others are skipped rather than fatal.
    inheritable = _numbers(c.inheritable, last) & _numbers(c.permitted, last)
    for number in _numbers(c.ambient, last) & inheritable:
        caps.raise_ambient(number)

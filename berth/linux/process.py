"""prctl(2) options, host and domain names, and ids: the calls that change this process."""

from __future__ import annotations

from berth.linux.libc import (
    Structure,
    addressof,
    byref,
    c_char,
    c_char_p,
    c_int,
    c_size_t,
    c_uint64,
    c_ulong,
    check,
    libc,
)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

libc.prctl.argtypes = [c_int, c_ulong, c_ulong, c_ulong, c_ulong]
libc.sethostname.argtypes = [c_char_p, c_size_t]
libc.setdomainname.argtypes = [c_char_p, c_size_t]


def prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "") -> int:
    return check(libc.prctl(option, arg2, arg3, 0, 0), what or f"prctl({option})")


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(on), what="prctl(PR_SET_DUMPABLE)")


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, int(on), what="prctl(PR_SET_KEEPCAPS)")


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1, what="prctl(PR_SET_NO_NEW_PRIVS)")


def set_child_subreaper() -> None:
    """Orphaned descendants are reparented to this process instead of the host's init."""
    prctl(PR_SET_CHILD_SUBREAPER, 1, what="prctl(PR_SET_CHILD_SUBREAPER)")


def set_parent_death_signal(signum: int) -> None:
    prctl(PR_SET_PDEATHSIG, signum, what="prctl(PR_SET_PDEATHSIG)")


def set_name(name: str) -> None:
    buf = (c_char * 16)()
    buf.value = name.encode()[:15]  # NUL-terminated: the rest stays zero
    prctl(PR_SET_NAME, addressof(buf), what="prctl(PR_SET_NAME)")


def sethostname(name: str) -> None:
    raw = name.encode()
    check(libc.sethostname(raw, len(raw)), f"sethostname {name!r}")


def setdomainname(name: str) -> None:
    raw = name.encode()
    check(libc.setdomainname(raw, len(raw)), f"setdomainname {name!r}")


# RLIMIT_* numbers (asm-generic/resource.h, the same on x86-64 and arm64).
RLIMITS = {
    name: number
    for number, name in enumerate(
        (
            "RLIMIT_CPU",
            "RLIMIT_FSIZE",
            "RLIMIT_DATA",
            "RLIMIT_STACK",
            "RLIMIT_CORE",
            "RLIMIT_RSS",
            "RLIMIT_NPROC",
            "RLIMIT_NOFILE",
            "RLIMIT_MEMLOCK",
            "RLIMIT_AS",
            "RLIMIT_LOCKS",
            "RLIMIT_SIGPENDING",
            "RLIMIT_MSGQUEUE",
            "RLIMIT_NICE",
            "RLIMIT_RTPRIO",
            "RLIMIT_RTTIME",
        )
    )
}


class _Rlimit(Structure):
    _fields_ = [("cur", c_uint64), ("max", c_uint64)]


def setrlimit(name: str, soft: int, hard: int) -> None:
    """Set the RLIMIT_* `name` of this process (values above 2**64-1 mean unlimited)."""
    limit = _Rlimit(min(soft, 2**64 - 1), min(hard, 2**64 - 1))
    check(libc.setrlimit(RLIMITS[name], byref(limit)), f"setrlimit {name} soft={soft} hard={hard}")

"""Capability sets: names, capget(2)/capset(2), the bounding and ambient sets."""

from __future__ import annotations

from berth.linux import process
from berth.linux.libc import Structure, byref, c_int, c_uint32, check, libc

NAMES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: number for number, name in enumerate(NAMES)}

_VERSION_3 = 0x20080522


class _Header(Structure):
    _fields_ = [("version", c_uint32), ("pid", c_int)]


class _Data(Structure):
    _fields_ = [
        ("effective", c_uint32),
        ("permitted", c_uint32),
        ("inheritable", c_uint32),
    ]


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def mask(numbers: set[int]) -> int:
    value = 0
    for n in numbers:
        value |= 1 << n
    return value


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of `pid` (0: this thread) as 64-bit masks."""
    header = _Header(_VERSION_3, pid)
    data = (_Data * 2)()
    check(libc.capget(byref(header), data), f"capget pid {pid}")
    join = lambda lo, hi: lo | (hi << 32)  # noqa: E731
    return (
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    )


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for i, shift in enumerate((0, 32)):
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    check(libc.capset(byref(header), data), "capset")


def drop_bounding(number: int) -> None:
    # Called for most of the ~40 capabilities at every container start: the
    # error's words are built only on failure.
    if libc.prctl(process.PR_CAPBSET_DROP, number, 0, 0, 0) == -1:
        check(-1, f"drop {NAMES[number]} from bounding set")


def clear_ambient() -> None:
    process.prctl(
        process.PR_CAP_AMBIENT, process.PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities"
    )


def raise_ambient(number: int) -> None:
    process.prctl(
        process.PR_CAP_AMBIENT,
        process.PR_CAP_AMBIENT_RAISE,
        number,
        what=f"raise ambient {NAMES[number]}",
    )

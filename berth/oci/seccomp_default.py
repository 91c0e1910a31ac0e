"""berth's default seccomp profile: allow everything except what Docker's
default profile refuses to an unprivileged container.

Docker's profile is an allow-list with EPERM as default; ours is the
equivalent deny-list (smaller, so quicker for the runtime to load). Some
calls are refused only while the container lacks a capability, as in
Docker's profile: adding CAP_SYS_ADMIN allows mount, unshare, setns ...
"""

from __future__ import annotations

from typing import Any

EPERM = 1

ARCHES = ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32")

ALWAYS_DENIED: tuple[str, ...] = (
    "add_key",
    "create_module",
    "get_kernel_syms",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "nfsservctl",
    "query_module",
    "request_key",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "_sysctl",
    "sysfs",
)

# capability -> calls refused unless the container has it
DENIED_WITHOUT: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "bpf",
        "clone3",
        "fanotify_init",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "open_tree",
        "perf_event_open",
        "quotactl",
        "setdomainname",
        "sethostname",
        "setns",
        "syslog",
        "umount",
        "umount2",
        "unshare",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_MODULE": ("delete_module", "finit_module", "init_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev", "ptrace"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("clock_adjtime", "clock_settime", "settimeofday", "stime"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "move_pages"),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
}

# clone3 is refused with ENOSYS so that libc falls back to clone (as Docker does).
ENOSYS = 38


def default_profile(capabilities: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The profile for a container holding `capabilities` (OCI linux.seccomp dict)."""
    have = set(capabilities)
    denied = set(ALWAYS_DENIED)
    for cap, calls in DENIED_WITHOUT.items():
        if cap not in have:
            denied.update(calls)
    denied.add("pivot_root") if "CAP_SYS_ADMIN" not in have else None
    syscalls: list[dict[str, Any]] = []
    if "clone3" in denied:
        denied.discard("clone3")
        syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    syscalls.append({"names": sorted(denied), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM})
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": list(ARCHES), "syscalls": syscalls}

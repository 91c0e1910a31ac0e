"""Seccomp filters through libseccomp.so.2: build a filter context, add rules, load it
or export it as a BPF program; and loading such a program with seccomp(2) itself.

Loaded lazily: only a container with a seccomp section pays for opening the library.
libseccomp returns negative errno values instead of setting errno; `_check` turns
them into OSError with the operation named. `load_program` needs no libseccomp:
the runtime compiles (or finds in its cache) the program before it forks, and the
container's process, past pivot_root, loads the bytes.
"""

from __future__ import annotations

import os

from berth.linux import libc as c

# Actions (seccomp.h); ERRNO and TRACE carry a 16-bit value.
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_NOTIFY = 0x7FC00000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

# Argument comparison operators (enum scmp_compare).
CMP_NE = 1
CMP_LT = 2
CMP_LE = 3
CMP_EQ = 4
CMP_GE = 5
CMP_GT = 6
CMP_MASKED_EQ = 7

# Filter attributes (enum scmp_filter_attr).
FLTATR_CTL_NNP = 3
FLTATR_CTL_TSYNC = 4
FLTATR_CTL_LOG = 6

NR_SCMP_ERROR = -1


class ArgCmp(c.Structure):
    _fields_ = [
        ("arg", c.c_uint),
        ("op", c.c_int),
        ("datum_a", c.c_uint64),
        ("datum_b", c.c_uint64),
    ]


_lib: c.Library | None = None


def library() -> c.Library:
    global _lib
    if _lib is None:
        try:
            lib = c.Library("libseccomp.so.2")
        except OSError as e:
            raise OSError(2, f"load libseccomp.so.2: {e}") from e
        lib.seccomp_init.restype = c.c_void_p
        lib.seccomp_init.argtypes = [c.c_uint32]
        lib.seccomp_release.argtypes = [c.c_void_p]
        lib.seccomp_load.argtypes = [c.c_void_p]
        lib.seccomp_arch_add.argtypes = [c.c_void_p, c.c_uint32]
        lib.seccomp_arch_resolve_name.argtypes = [c.c_char_p]
        lib.seccomp_arch_resolve_name.restype = c.c_uint32
        lib.seccomp_arch_native.restype = c.c_uint32
        lib.seccomp_syscall_resolve_name.argtypes = [c.c_char_p]
        lib.seccomp_attr_set.argtypes = [c.c_void_p, c.c_int, c.c_uint32]
        lib.seccomp_export_bpf.argtypes = [c.c_void_p, c.c_int]
        lib.seccomp_version.restype = c.POINTER(c.c_uint * 3)
        lib.seccomp_rule_add_array.argtypes = [
            c.c_void_p,
            c.c_uint32,
            c.c_int,
            c.c_uint,
            c.POINTER(ArgCmp),
        ]
        _lib = lib
    return _lib


def _check(result: int, what: str) -> int:
    if result < 0:
        raise OSError(-result, f"{what}: {os.strerror(-result)}")
    return result


def resolve_arch(name: str) -> int:
    """libseccomp's token for an architecture name such as "x86_64"; 0 when unknown."""
    return library().seccomp_arch_resolve_name(name.encode())


def resolve_syscall(name: str) -> int:
    """The syscall number for the filter's architectures, or NR_SCMP_ERROR if unknown."""
    return library().seccomp_syscall_resolve_name(name.encode())


class Filter:
    """One libseccomp filter context; `load()` installs it in the calling thread."""

    def __init__(self, default_action: int) -> None:
        self._lib = library()
        self._ctx = self._lib.seccomp_init(default_action)
        if not self._ctx:
            raise OSError(22, f"seccomp_init({default_action:#x}): invalid default action")

    def set_attribute(self, attribute: int, value: int) -> None:
        _check(self._lib.seccomp_attr_set(self._ctx, attribute, value), "seccomp_attr_set")

    def add_arch(self, token: int, name: str) -> None:
        result = self._lib.seccomp_arch_add(self._ctx, token)
        if result != -17:  # EEXIST: the native architecture is always present
            _check(result, f"seccomp_arch_add {name}")

    def add_rule(
        self, action: int, syscall: int, args: list[tuple[int, int, int, int]], what: str
    ) -> None:
        array = (ArgCmp * max(len(args), 1))(*[ArgCmp(*a) for a in args])
        _check(
            self._lib.seccomp_rule_add_array(self._ctx, action, syscall, len(args), array),
            f"seccomp rule for {what}",
        )

    def load(self) -> None:
        _check(self._lib.seccomp_load(self._ctx), "seccomp_load")

    def export_bpf(self) -> bytes:
        """The filter as the BPF program the kernel would get (struct sock_filter[])."""
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _check(self._lib.seccomp_export_bpf(self._ctx, fd), "seccomp_export_bpf")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None


def version() -> str:
    """libseccomp's version ("2.5.4"): its BPF output may change with it."""
    v = library().seccomp_version().contents
    return ".".join(str(n) for n in v)


SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_LOG = 2
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}


class _SockFprog(c.Structure):
    _fields_ = [("len", c.c_ushort), ("filter", c.c_char_p)]


def load_program(program: bytes, log: bool = False) -> None:
    """Install a BPF filter program (from `Filter.export_bpf`) in this thread with
    seccomp(2). As with libseccomp's load, the caller sees to no_new_privs or
    holds CAP_SYS_ADMIN."""
    if not program or len(program) % 8:
        raise OSError(22, f"seccomp: a BPF program of {len(program)} bytes is malformed")
    prog = _SockFprog(len(program) // 8, program)
    flags = SECCOMP_FILTER_FLAG_LOG if log else 0
    c.check(
        c.libc.syscall(
            _SYS_SECCOMP[os.uname().machine], SECCOMP_SET_MODE_FILTER, flags, c.byref(prog)
        ),
        "seccomp(SECCOMP_SET_MODE_FILTER)",
    )

"""config.json's seccomp section as a libseccomp filter.

`plan` checks the section and turns it into numbers (actions, operators,
argument comparisons) without touching the kernel, so unit tests can read it;
`load` resolves syscall names for the listed architectures and installs the
filter in the calling process. As runc does: rules whose action equals the
default are skipped (libseccomp refuses them), several conditions on the same
argument become one rule per condition, ERRNO without errnoRet means EPERM,
and syscall names unknown to libseccomp are ignored.
"""

from __future__ import annotations

import errno

from berth.errors import InvalidArgument
from berth.linux import seccomp as lib
from berth.oci.spec import Seccomp

_ACTIONS = {
    "SCMP_ACT_KILL": lib.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": lib.ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": lib.ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": lib.ACT_TRAP,
    "SCMP_ACT_ERRNO": lib.ACT_ERRNO,
    "SCMP_ACT_TRACE": lib.ACT_TRACE,
    "SCMP_ACT_ALLOW": lib.ACT_ALLOW,
    "SCMP_ACT_LOG": lib.ACT_LOG,
}
_OPS = {
    "SCMP_CMP_NE": lib.CMP_NE,
    "SCMP_CMP_LT": lib.CMP_LT,
    "SCMP_CMP_LE": lib.CMP_LE,
    "SCMP_CMP_EQ": lib.CMP_EQ,
    "SCMP_CMP_GE": lib.CMP_GE,
    "SCMP_CMP_GT": lib.CMP_GT,
    "SCMP_CMP_MASKED_EQ": lib.CMP_MASKED_EQ,
}


class Rule:
    """One libseccomp rule: syscall name, action, argument comparisons.
    (Plain classes here: `dataclasses` costs every berth-runc start more than it saves.)"""

    __slots__ = ("action", "args", "name")

    def __init__(self, name: str, action: int, args: tuple[tuple[int, int, int, int], ...]):
        self.name = name
        self.action = action
        self.args = args  # (index, op, value, value_two) each

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return (self.name, self.action, self.args) == (other.name, other.action, other.args)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Rule({self.name!r}, {self.action:#x}, {self.args})"


class Plan:
    """A whole filter, ready for `load`."""

    __slots__ = ("architectures", "default_action", "log", "rules")

    def __init__(
        self,
        default_action: int,
        architectures: tuple[str, ...],
        rules: tuple[Rule, ...],
        log: bool,
    ) -> None:
        self.default_action = default_action
        self.architectures = architectures  # libseccomp names: "x86_64", "x86", ...
        self.rules = rules
        self.log = log


def action(name: str, errno_ret: int | None) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(
            "seccomp: SCMP_ACT_NOTIFY needs a listener, which berth-runc does not support"
        )
    if name not in _ACTIONS:
        raise InvalidArgument(f"seccomp: unknown action {name}")
    value = _ACTIONS[name]
    if value in (lib.ACT_ERRNO, lib.ACT_TRACE):
        value |= (errno.EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def plan(section: Seccomp) -> Plan:
    default = action(section.default_action, section.default_errno_ret)
    arches = []
    for arch in section.architectures:
        if not arch.startswith("SCMP_ARCH_"):
            raise InvalidArgument(f"seccomp: unknown architecture {arch}")
        arches.append(arch.removeprefix("SCMP_ARCH_").lower())
    rules: list[Rule] = []
    for syscall in section.syscalls:
        act = action(syscall.action, syscall.errno_ret)
        if act == default:
            continue
        args = []
        for a in syscall.args:
            if a.op not in _OPS:
                raise InvalidArgument(f"seccomp: unknown operator {a.op}")
            args.append((a.index, _OPS[a.op], a.value, a.value_two))
        indexes = [a[0] for a in args]
        groups = [tuple(args)] if len(set(indexes)) == len(indexes) else [(a,) for a in args]
        for name in syscall.names:
            for group in groups:
                rules.append(Rule(name, act, group))
    return Plan(default, tuple(arches), tuple(rules), "SECCOMP_FILTER_FLAG_LOG" in section.flags)


def _filter(p: Plan) -> lib.Filter:
    """A libseccomp filter context holding plan `p` (the caller releases it)."""
    f = lib.Filter(p.default_action)
    try:
        f.set_attribute(lib.FLTATR_CTL_NNP, 0)
        if p.log:
            f.set_attribute(lib.FLTATR_CTL_LOG, 1)
        for arch in p.architectures:
            token = lib.resolve_arch(arch)
            if token:
                f.add_arch(token, arch)
        for rule in p.rules:
            number = lib.resolve_syscall(rule.name)
            if number == lib.NR_SCMP_ERROR:
                continue
            f.add_rule(rule.action, number, list(rule.args), rule.name)
    except BaseException:
        f.release()
        raise
    return f


def load(p: Plan) -> None:
    """Install the filter in this process (no_new_privs is the caller's business)."""
    f = _filter(p)
    try:
        f.load()
    finally:
        f.release()


def compile_program(p: Plan) -> bytes:
    """The plan as the BPF program libseccomp would load (`lib.load_program` loads it)."""
    f = _filter(p)
    try:
        return f.export_bpf()
    finally:
        f.release()


# ---- a cache of compiled programs --------------------------------------------------------
#
# Building the filter with libseccomp (resolving names, generating BPF) costs about
# 1.5 ms per container start and exec, and nearly every container of a host has the
# same profile (Docker's default, per set of capabilities). The cache keeps each
# compiled program in a file named by a hash of everything that determines it: the
# plan, libseccomp's version and the machine. Files are written whole under a
# temporary name and renamed; each starts with a header naming the hash of the
# program after it, which a reader checks (anything else: compiled afresh). The
# directory lives in the runtime's state root (root-owned, 0700, usually on tmpfs).

CACHE_DIR = "@seccomp"  # not a valid container id, so no container dir can collide
_FORMAT = b"berth-seccomp-bpf 1"


def _sha256(data: bytes) -> str:
    try:
        from _sha256 import sha256  # the C module alone; hashlib also loads OpenSSL
    except ImportError:
        from hashlib import sha256
    return sha256(data).hexdigest()


def cache_key(p: Plan) -> str:
    import os

    parts = [
        _FORMAT.decode(),
        lib.version(),
        os.uname().machine,
        f"{p.default_action:#x} {','.join(p.architectures)} {int(p.log)}",
        *(f"{r.name} {r.action:#x} {r.args}" for r in p.rules),
    ]
    return _sha256("\n".join(parts).encode())


class Compiled:
    """A filter ready for the container's process: the BPF program and its LOG flag.
    Made by the runtime before it forks (`compiled`); `load()` needs no libseccomp."""

    __slots__ = ("log", "program")

    def __init__(self, program: bytes, log: bool) -> None:
        self.program = program
        self.log = log

    def load(self) -> None:
        lib.load_program(self.program, self.log)


def compiled(section: Seccomp, root: str | None) -> Compiled:
    """The container's seccomp section, planned and compiled (or found in the cache)."""
    p = plan(section)
    return Compiled(program(p, root), p.log)


def program(p: Plan, root: str | None) -> bytes:
    """The compiled program of `p`, from the cache under the state root `root` when
    it holds a sound copy, else compiled (and cached when `root` is given)."""
    import os

    if root is None:
        return compile_program(p)
    directory = os.path.join(root, CACHE_DIR)
    path = os.path.join(directory, cache_key(p))
    try:
        with open(path, "rb") as f:
            header, _, body = f.read().partition(b"\n")
        if header == _FORMAT + b" " + _sha256(body).encode() and body and len(body) % 8 == 0:
            return body
    except FileNotFoundError:
        pass
    body = compile_program(p)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, _FORMAT + b" " + _sha256(body).encode() + b"\n" + body)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        pass  # a read-only or full state root: still correct, only not cached
    return body

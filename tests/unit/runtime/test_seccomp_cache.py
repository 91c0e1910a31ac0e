"""Compiled seccomp programs: loaded with seccomp(2) without libseccomp, and cached
under the state root by a hash of what determines them."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from berth.linux import process as prc
from berth.oci.spec import Seccomp
from berth.runtime import seccomp

SECTION = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
}


def plan(section: dict = SECTION) -> seccomp.Plan:
    return seccomp.plan(Seccomp.from_dict(section, "seccomp"))


def test_a_compiled_program_filters_once_loaded(tmp_path: Path) -> None:
    compiled = seccomp.Compiled(seccomp.program(plan(), None), log=False)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            prc.set_no_new_privs()
            compiled.load()
            try:
                os.mkdir(tmp_path / "denied")
                os.write(write, b"created")
            except OSError as e:
                os.write(write, str(e.errno).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as f:
        seen = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert seen == str(errno.ENOSYS)
    assert not (tmp_path / "denied").exists()


def test_the_cache_returns_what_the_compiler_makes(tmp_path: Path) -> None:
    p = plan()
    first = seccomp.program(p, str(tmp_path))
    assert first == seccomp.compile_program(p)
    (cached,) = (tmp_path / seccomp.CACHE_DIR).iterdir()
    assert cached.name == seccomp.cache_key(p)
    assert oct(cached.stat().st_mode & 0o777) == "0o600"
    assert seccomp.program(p, str(tmp_path)) == first


def test_a_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    p = plan()
    good = seccomp.program(p, str(tmp_path))
    path = tmp_path / seccomp.CACHE_DIR / seccomp.cache_key(p)
    header = path.read_bytes().partition(b"\n")[0]
    for damaged in (b"", b"garbage", header + b"\n" + good[:-8], header + b"\n" + good + b"x"):
        path.write_bytes(damaged)
        assert seccomp.program(p, str(tmp_path)) == good
        assert path.read_bytes() == header + b"\n" + good


def test_different_filters_have_different_keys() -> None:
    other = dict(SECTION, syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])
    logged = dict(SECTION, flags=["SECCOMP_FILTER_FLAG_LOG"])
    keys = {seccomp.cache_key(plan(s)) for s in (SECTION, other, logged)}
    assert len(keys) == 3
    assert seccomp.cache_key(plan()) == seccomp.cache_key(plan())

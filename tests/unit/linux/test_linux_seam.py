"""berth.linux: the pieces that run without root."""

from __future__ import annotations

import errno
import os
import struct

import pytest

from berth.linux import capabilities as caps
from berth.linux import mount, namespaces
from berth.linux.fds import execveat, sealed_memfd
from berth.runtime.execstub import image


def test_capability_names_match_the_kernel_numbering():
    assert caps.NUMBERS["CAP_CHOWN"] == 0
    assert caps.NUMBERS["CAP_SYS_ADMIN"] == 21
    assert caps.NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40
    assert caps.mask({0, 13}) == 0x2001
    assert caps.last_cap() >= 36


def test_capget_reads_this_process():
    effective, permitted, _ = caps.capget()
    assert effective & ~permitted == 0


def test_errors_carry_the_object():
    with pytest.raises(OSError) as err:
        mount.umount("/definitely/not/mounted")
    assert "/definitely/not/mounted" in str(err.value)
    with pytest.raises(OSError) as err:
        namespaces.setns(-1, namespaces.CLONE_NEWNET, "/proc/0/ns/net")
    assert err.value.errno == errno.EBADF
    assert "/proc/0/ns/net" in str(err.value)


def test_sealed_memfd_cannot_be_changed():
    fd = sealed_memfd("berth-test", b"hello", executable=False)
    try:
        with pytest.raises(OSError) as err:
            os.write(fd, b"x")
        assert err.value.errno == errno.EPERM
        with pytest.raises(OSError):
            os.ftruncate(fd, 0)
        writable = f"/proc/self/fd/{fd}"
        with pytest.raises(OSError), open(writable, "wb") as f:
            f.write(b"x")
        assert os.pread(fd, 5, 0) == b"hello"
    finally:
        os.close(fd)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the exec stub is x86-64 only")
def test_exec_stub_runs_its_argument():
    elf = image()
    assert elf[:4] == b"\x7fELF"
    entry = struct.unpack_from("<Q", elf, 24)[0]
    assert entry == 0x400000 + 64 + 56
    fd = sealed_memfd("berth-exec", elf, executable=True)
    try:
        for argv, code in (
            (["stub", "/bin/sh", "sh", "-c", "exit 7"], 7),
            (["stub", "/no/such/program", "x"], 127),
            (["stub", "/bin/sh"], 127),  # too few arguments: not from the init
        ):
            pid = os.fork()
            if pid == 0:
                try:
                    execveat(fd, argv, [])
                finally:
                    os._exit(99)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == code, argv
    finally:
        os.close(fd)

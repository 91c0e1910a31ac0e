"""The last hop into the container's program, through a sealed in-memory stub.

Why: the init is a Python process, so until it execs, /proc/self/exe is the
host's interpreter. If the container's program were a script starting with
`#!/proc/self/exe`, the kernel would run the host interpreter inside the
container, which could then reopen its own executable for writing and replace
it on the host (the CVE-2019-5736 class). So the init first execs this
stub from a sealed memfd; the stub execs the real program. Seen from the
container, /proc/self/exe at that moment is a sealed, read-only memfd: nothing
to overwrite. It costs one execve of a 170-byte program.

The stub is a hand-assembled static x86-64 ELF; it runs
`execve(argv[1], &argv[2], envp)` and exits 127 if that fails or if it was
given fewer than two arguments. On other
architectures the init execs the program directly (and relies on being
non-dumpable until exec).
"""

from __future__ import annotations

import os
import struct

_BASE = 0x400000
_CODE = bytes.fromhex(
    "48833c2403"  # cmp qword [rsp], 3       argc < 3: not called by the init,
    "721a"  # jb exit                 (e.g. a "#!/proc/self/exe" script)
    "488b7c2410"  # mov rdi, [rsp+16]        argv[1]: the program's path
    "488d742418"  # lea rsi, [rsp+24]        &argv[2]: its argv
    "488b0424"  # mov rax, [rsp]           argc
    "488d54c410"  # lea rdx, [rsp+rax*8+16]  envp
    "b83b000000"  # mov eax, 59 (execve)
    "0f05"  # syscall
    "bf7f000000"  # exit: mov edi, 127
    "b8e7000000"  # mov eax, 231 (exit_group)
    "0f05"  # syscall
)


def image() -> bytes | None:
    """The stub's ELF image for this machine, or None where there is none."""
    if os.uname().machine != "x86_64":
        return None
    header_size = 64 + 56
    total = header_size + len(_CODE)
    elf = struct.pack(
        "<4sBBBB8xHHIQQQIHHHHHH",
        b"\x7fELF",
        2,  # 64-bit
        1,  # little endian
        1,  # ELF version
        0,  # System V ABI
        2,  # ET_EXEC
        0x3E,  # x86-64
        1,
        _BASE + header_size,  # entry
        64,  # program headers right after this header
        0,
        0,
        64,
        56,
        1,
        0,
        0,
        0,
    )
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, _BASE, _BASE, total, total, 0x1000)  # PT_LOAD, R+X
    return elf + program + _CODE

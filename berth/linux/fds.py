"""File-descriptor plumbing: seqpacket socketpairs, SCM_RIGHTS, memfd, execveat."""

from __future__ import annotations

import fcntl
import os

from berth.linux.libc import c_char_p, c_int, c_uint, check, libc

AF_UNIX = 1
SOCK_SEQPACKET = 5
SOCK_CLOEXEC = 0o2000000
MFD_CLOEXEC = 1
MFD_ALLOW_SEALING = 2
MFD_EXEC = 0x10
F_ADD_SEALS = 1033
F_SEAL_SEAL = 1
F_SEAL_SHRINK = 2
F_SEAL_GROW = 4
F_SEAL_WRITE = 8
AT_EMPTY_PATH = 0x1000

libc.memfd_create.argtypes = [c_char_p, c_uint]


def seqpacket_pair() -> tuple[int, int]:
    """Two connected AF_UNIX SOCK_SEQPACKET fds (close-on-exec): one write is one message."""
    fds = (c_int * 2)()
    check(libc.socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), "socketpair")
    return fds[0], fds[1]


def send_fd(socket_path: str, fd: int, name: bytes) -> None:
    """Connect to the unix socket at `socket_path` and pass `fd` with SCM_RIGHTS."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(socket_path)
            socket.send_fds(sock, [name], [fd])
        except OSError as e:
            raise OSError(e.errno, f"send pty to console socket {socket_path}: {e.strerror}") from e


def connect_unix(socket_path: str) -> int:
    """A connected stream socket to `socket_path`, as a plain fd the caller owns."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"connect to console socket {socket_path}: {e.strerror}") from e
    return sock.detach()


def send_fd_on(sock_fd: int, fd: int, name: bytes) -> None:
    """Pass `fd` with SCM_RIGHTS over the already connected socket `sock_fd`."""
    import socket

    sock = socket.socket(fileno=sock_fd)
    try:
        socket.send_fds(sock, [name], [fd])
    except OSError as e:
        raise OSError(e.errno, f"send fd over socket: {e.strerror}") from e
    finally:
        sock.detach()


def sealed_memfd(name: str, content: bytes, executable: bool) -> int:
    """A memfd holding `content`, sealed so nothing can ever change it."""
    flags = MFD_CLOEXEC | MFD_ALLOW_SEALING
    fd = libc.memfd_create(name.encode(), flags | (MFD_EXEC if executable else 0))
    if fd == -1 and executable:  # kernels before 6.3 do not know MFD_EXEC
        fd = libc.memfd_create(name.encode(), flags)
    check(fd, f"memfd_create {name}")
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
        fcntl.fcntl(fd, F_ADD_SEALS, seals)
        if executable:
            os.fchmod(fd, 0o555)
    except BaseException:
        os.close(fd)
        raise
    return fd


def execveat(fd: int, argv: list[str], env: list[str]) -> None:
    """Execute the program open on `fd`; returns only by raising."""
    args = (c_char_p * (len(argv) + 1))(*[a.encode() for a in argv], None)
    envp = (c_char_p * (len(env) + 1))(*[e.encode() for e in env], None)
    check(
        libc.syscall(_SYS_EXECVEAT[os.uname().machine], fd, b"", args, envp, AT_EMPTY_PATH),
        f"execveat {argv[0]}",
    )


_SYS_EXECVEAT = {"x86_64": 322, "aarch64": 281}


def receive_fd(listener, what: str) -> int:
    """Accept one connection on the listening socket `listener` and take the one fd
    it sends with SCM_RIGHTS (the pty master, for a console socket)."""
    import socket

    conn, _ = listener.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    if not fds:
        raise OSError(71, f"{what}: no file descriptor received")  # EPROTO
    return fds[0]

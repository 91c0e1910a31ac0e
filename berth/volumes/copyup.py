"""Filling a new volume with what the image has at the mount point, as Docker does.

Reading from the image's root goes through `pathsafe` (fds, no symlink leaves
the root); entries keep their owner, mode and times, and symlinks are copied as
symlinks. Only a volume that is still empty is filled.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from berth.volumes import pathsafe

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def is_empty(path: Path) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def copy_up(rootfs: Path, target: str, volume_dir: Path) -> bool:
    """Copy `target` (a directory in `rootfs`) into the empty `volume_dir`; False if nothing to copy."""
    if not is_empty(volume_dir):
        return False
    try:
        with pathsafe.open_in_root(rootfs, target, os.O_RDONLY | os.O_DIRECTORY) as src:
            st = os.stat(src)
            dst = os.open(str(volume_dir), _DIR)
            try:
                _copy_tree(src, dst)
                os.chown(dst, st.st_uid, st.st_gid)
                os.chmod(dst, stat.S_IMODE(st.st_mode))
            finally:
                os.close(dst)
    except (pathsafe.NotFound, pathsafe.InvalidArgument, NotADirectoryError):
        return False
    return True


def _copy_tree(src: int, dst: int) -> None:
    for name in os.listdir(src):
        st = os.stat(name, dir_fd=src, follow_symlinks=False)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dst)
            s = os.open(name, _DIR, dir_fd=src)
            d = os.open(name, _DIR, dir_fd=dst)
            try:
                _copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
            d = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dst,
            )
            try:
                _copy_data(s, d, st.st_size)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(name, mode, dir_fd=dst)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst)
        else:
            continue
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, mode, dir_fd=dst)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst)


def _copy_data(src: int, dst: int, size: int) -> None:
    """copy_file_range where the kernel allows it (same filesystem), read/write otherwise."""
    remaining = size
    while remaining > 0:
        try:
            n = os.copy_file_range(src, dst, remaining)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            break
        if n == 0:
            return
        remaining -= n
    while data := os.read(src, 1 << 20):
        os.write(dst, data)

"""Tar archives of paths inside a container's root, both ways, never leaving the root.

`archive`/`archive_stream` serve GET /containers/{id}/archive (docker cp out),
`extract` serves PUT (docker cp in). Both walk with file descriptors from
`pathsafe.resolve`: entries are opened with O_NOFOLLOW, symlinks are stored
as links, and a tar member that would land outside the destination (`..`,
absolute, or through a symlink or other non-directory) is refused with
Forbidden before anything of it is written.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from berth.errors import Forbidden, InvalidArgument, NotFound
from berth.volumes.pathsafe import _DIR_FLAGS, resolve


def archive(root: str | Path, path: str, out: io.RawIOBase | io.BufferedIOBase) -> None:
    """Write a tar of `path` (file or directory) from inside `root` to `out`.

    The top entry is named after the path's last component, as Docker does.
    Walking uses fds opened with O_NOFOLLOW; symlinks are stored, not followed.
    """
    # the link itself, as docker cp; a trailing "/" or "/." asks for what it points to
    r = resolve(root, path, follow_last=path.endswith(("/", "/.")))
    try:
        base = PurePosixPath(r.path).name or "."
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if r.name == "":
                _add_dir(tar, r.parent_fd, base)
            else:
                _add_entry(tar, r.parent_fd, r.name, base)
    finally:
        r.close()


def _tarinfo(name: str, st: os.stat_result) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    return ti


def _add_entry(tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {arcname} in container") from None
    ti = _tarinfo(arcname, st)
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            _add_dir(tar, fd, arcname, st)
        finally:
            os.close(fd)
    elif stat.S_ISREG(st.st_mode):
        ti.type, ti.size = tarfile.REGTYPE, st.st_size
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as f:
            tar.addfile(ti, f)
    elif stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
        tar.addfile(ti)
    elif stat.S_ISFIFO(st.st_mode):
        ti.type = tarfile.FIFOTYPE
        tar.addfile(ti)
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        tar.addfile(ti)
    # sockets are skipped, as tar does


def _add_dir(tar: tarfile.TarFile, fd: int, arcname: str, st: os.stat_result | None = None) -> None:
    ti = _tarinfo(arcname, st or os.stat(fd))
    ti.type = tarfile.DIRTYPE
    tar.addfile(ti)
    for entry in sorted(os.listdir(fd)):
        _add_entry(tar, fd, entry, f"{arcname}/{entry}")


def extract(
    root: str | Path,
    path: str,
    stream: io.BufferedIOBase,
    *,
    no_overwrite_dir_non_dir: bool = False,
) -> None:
    """Unpack a tar stream into the directory `path` inside `root`, safely.

    Every member is placed by walking from the destination's fd; a member whose
    path climbs out ('..', absolute) or runs through a symlink is refused with
    Forbidden before anything of it is written. Hard links must point inside
    the extracted tree.
    """
    dest = resolve(root, path)
    try:
        if dest.name == "":
            dest_fd = os.dup(dest.parent_fd)
        else:
            try:
                dest_fd = os.open(dest.name, _DIR_FLAGS, dir_fd=dest.parent_fd)
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {path} in container") from None
            except NotADirectoryError:
                raise InvalidArgument(f"extraction point is not a directory: {path}") from None
    finally:
        dest.close()
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                _extract_member(tar, member, dest_fd, no_overwrite_dir_non_dir)
    finally:
        os.close(dest_fd)


def _member_parts(name: str) -> list[str]:
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts or name.startswith("/"):
        if not parts:
            return []
        raise Forbidden(f"archive member {name!r} would be written outside the destination")
    return parts


def _walk_parent(dest_fd: int, parts: list[str]) -> int:
    """fd of the directory that will hold parts[-1], creating directories, never following links."""
    fd = os.dup(dest_fd)
    for p in parts[:-1]:
        try:
            st = os.stat(p, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise Forbidden(f"archive member path runs through non-directory {p!r}")
        except FileNotFoundError:
            os.mkdir(p, 0o755, dir_fd=fd)
        nfd = os.open(p, _DIR_FLAGS, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def _extract_member(
    tar: tarfile.TarFile, m: tarfile.TarInfo, dest_fd: int, no_clobber: bool
) -> None:
    parts = _member_parts(m.name)
    if not parts:
        return
    fd = _walk_parent(dest_fd, parts)
    name = parts[-1]
    try:
        try:
            old = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not (m.isdir() and stat.S_ISDIR(old.st_mode)):
            if no_clobber and stat.S_ISDIR(old.st_mode) != m.isdir():
                raise InvalidArgument(f"cannot overwrite {name}: directory/non-directory mismatch")
            if stat.S_ISDIR(old.st_mode):
                import shutil

                shutil.rmtree(name, dir_fd=fd)
            else:
                os.unlink(name, dir_fd=fd)
        if m.isdir():
            if old is None or not stat.S_ISDIR(old.st_mode):
                os.mkdir(name, 0o700, dir_fd=fd)
        elif m.isreg():
            out = os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=fd,
            )
            src = tar.extractfile(m)
            with os.fdopen(out, "wb") as f:
                while src is not None and (chunk := src.read(1 << 20)):
                    f.write(chunk)
        elif m.issym():
            os.symlink(m.linkname, name, dir_fd=fd)
        elif m.islnk():
            tparts = _member_parts(m.linkname)
            tfd = _walk_parent(dest_fd, tparts)
            try:
                os.link(tparts[-1], name, src_dir_fd=tfd, dst_dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(tfd)
        elif m.isfifo():
            os.mkfifo(name, m.mode & 0o7777, dir_fd=fd)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(name, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor), dir_fd=fd)
        else:
            return
        os.chown(name, m.uid, m.gid, dir_fd=fd, follow_symlinks=False)
        if not m.issym():
            os.chmod(name, m.mode & 0o7777, dir_fd=fd)
            os.utime(name, (m.mtime, m.mtime), dir_fd=fd)
    finally:
        os.close(fd)


def archive_stream(root: str | Path, path: str, chunk: int = 1 << 16) -> Iterator[bytes]:
    """`archive` as an iterator of chunks, for a streamed HTTP response.

    The path is resolved before the first chunk, so NotFound and friends are
    raised by this call rather than in the middle of the stream.
    """
    import threading

    resolve(root, path).close()  # errors now, not mid-stream
    rfd, wfd = os.pipe()
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(wfd, "wb") as w:
                archive(root, path, w)
        except BaseException as e:  # surfaced to the consumer at the end
            errors.append(e)

    t = threading.Thread(target=produce, name="berth-archive", daemon=True)
    t.start()

    def chunks() -> Iterator[bytes]:
        with os.fdopen(rfd, "rb") as r:
            while data := r.read(chunk):
                yield data
        t.join()
        if errors:
            raise errors[0]

    return chunks()

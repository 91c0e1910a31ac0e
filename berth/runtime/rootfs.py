"""The container's filesystem, built by its init inside the new mount namespace:
mounts, device nodes and links, pivot_root, then masked and read-only paths.

Order (each step assumes the one before):
1. `prepare_root`: stop propagation to the host (rslave unless rootfsPropagation
   says otherwise) and bind the rootfs onto itself, so it is a mount point.
2. `mount_all`: the spec's mounts, each destination resolved inside the rootfs
   (a symlink in the image cannot send a mount outside it).
3. `create_devices`: the default device nodes and the spec's, /dev/fd & co.
4. `pivot_into`: pivot_root into the rootfs and detach the old root.
5. `readonly_paths`, `mask_paths`, `finish_root` (rootfs propagation, read-only root).
"""

from __future__ import annotations

import errno
import os

from berth.linux import devices as linux_devices
from berth.linux import mount as m
from berth.oci.spec import Device, Mount, Spec
from berth.runtime import mountopts
from berth.runtime.paths import secure_join

DEFAULT_DEVICES = (
    Device("c", "/dev/null", 1, 3, 0o666, 0, 0),
    Device("c", "/dev/zero", 1, 5, 0o666, 0, 0),
    Device("c", "/dev/full", 1, 7, 0o666, 0, 0),
    Device("c", "/dev/random", 1, 8, 0o666, 0, 0),
    Device("c", "/dev/urandom", 1, 9, 0o666, 0, 0),
    Device("c", "/dev/tty", 5, 0, 0o666, 0, 0),
)
DEV_LINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)

# statvfs f_flag bits -> mount flags that a bind remount must keep (they may be locked).
_LOCKED = ((os.ST_NOSUID, m.MS_NOSUID), (os.ST_NODEV, m.MS_NODEV), (os.ST_NOEXEC, m.MS_NOEXEC))


def locked_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    out = 0
    for st_bit, ms_bit in _LOCKED:
        if flags & st_bit:
            out |= ms_bit
    for st_bit, ms_bit in ((1024, m.MS_NOATIME), (2048, m.MS_NODIRATIME), (4096, m.MS_RELATIME)):
        if flags & st_bit:
            out |= ms_bit
    return out


def _mountpoint_of(path: str) -> str:
    """The mount point holding `path` (longest matching mountinfo entry)."""
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(
                best
            ):
                best = point
    return best


def prepare_root(rootfs: str, propagation: str | None) -> None:
    flag = mountopts.propagation_flag(propagation) if propagation else m.MS_SLAVE | m.MS_REC
    m.mount(None, "/", None, flag)
    if not (flag & m.MS_REC and flag & (m.MS_SLAVE | m.MS_PRIVATE | m.MS_UNBINDABLE)):
        # pivot_root refuses a new root whose parent mount is shared; after a
        # recursive slave/private/unbindable change of "/" (the default) none is.
        m.mount(None, _mountpoint_of(os.path.dirname(rootfs)), None, m.MS_PRIVATE)
    m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)


def _make_target(dest: str, like_file: bool) -> None:
    if like_file:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if not os.path.exists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.makedirs(dest, exist_ok=True)


def _bind(source: str, dest: str, opts: mountopts.MountOptions) -> None:
    if not os.path.exists(source):
        raise OSError(errno.ENOENT, f"bind mount source {source} does not exist")
    _make_target(dest, not os.path.isdir(source))
    m.mount(source, dest, None, opts.flags & (m.MS_BIND | m.MS_REC))
    extra = opts.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
    if extra:
        m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | extra | locked_flags(dest))


def _mount_cgroup(
    dest: str, opts: mountopts.MountOptions, sources: dict[str, str], own_ns: bool
) -> None:
    """/sys/fs/cgroup: the container's own cgroups, never the host's tree."""
    os.makedirs(dest, exist_ok=True)
    flags = opts.flags | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
    if "" in sources:  # v2
        if own_ns:
            m.mount("cgroup2", dest, "cgroup2", flags)
        else:
            m.mount(sources[""], dest, None, m.MS_BIND)
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | flags)
        return
    m.mount("tmpfs", dest, "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "mode=755")
    for key, source in sources.items():
        name = key.replace("name=", "") if key.startswith("name=") else key
        sub = os.path.join(dest, name)
        os.makedirs(sub, exist_ok=True)
        if own_ns:
            m.mount(
                "cgroup",
                sub,
                "cgroup",
                flags,
                key if not key.startswith("name=") else f"none,{key}",
            )
        else:
            m.mount(source, sub, None, m.MS_BIND)
            m.mount(None, sub, None, m.MS_BIND | m.MS_REMOUNT | flags)
        for controller in key.split(",") if "," in key else ():
            link = os.path.join(dest, controller)
            if not os.path.lexists(link):
                os.symlink(name, link)
    if opts.flags & m.MS_RDONLY:
        m.mount(
            None,
            dest,
            None,
            m.MS_REMOUNT | m.MS_RDONLY | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC,
            "mode=755",
        )


def mount_one(
    rootfs: str, bundle: str, mnt: Mount, cgroups: dict[str, str], own_cgroupns: bool
) -> None:
    dest = secure_join(rootfs, mnt.destination)
    opts = mountopts.parse(mnt.options)
    if mnt.type == "bind" or opts.is_bind:
        source = mnt.source or ""
        if not source.startswith("/"):
            source = os.path.join(bundle, source)
        _bind(source, dest, opts)
    elif mnt.type == "cgroup" or mnt.type == "cgroup2":
        _mount_cgroup(dest, opts, cgroups, own_cgroupns)
    else:
        os.makedirs(dest, exist_ok=True)
        try:
            m.mount(mnt.source or mnt.type, dest, mnt.type, opts.flags, opts.data or None)
        except OSError as e:
            if mnt.type != "sysfs" or e.errno != errno.EPERM:
                raise
            # Without its own network namespace, sysfs cannot be mounted: bind the host's.
            m.mount("/sys", dest, None, m.MS_BIND | m.MS_REC)
            m.mount(None, dest, None, m.MS_BIND | m.MS_REMOUNT | opts.flags | locked_flags(dest))
    for flag in opts.propagation:
        m.mount(None, dest, None, flag)


def mount_all(
    spec: Spec, rootfs: str, bundle: str, cgroups: dict[str, str], own_cgroupns: bool
) -> None:
    for mnt in spec.mounts:
        try:
            mount_one(rootfs, bundle, mnt, cgroups, own_cgroupns)
        except OSError as e:
            raise OSError(e.errno, f"mount {mnt.destination} ({mnt.type}): {e.strerror}") from None


def create_devices(rootfs: str, devices: list[Device], in_userns: bool) -> None:
    """Device nodes by mknod, or (inside a user namespace) bind mounts of the host's."""
    for dev in (*DEFAULT_DEVICES, *devices):
        path = secure_join(rootfs, dev.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                raise OSError(errno.EISDIR, f"device path {dev.path} is a directory")
            os.unlink(path)
        if in_userns:
            _make_target(path, True)
            m.mount(dev.path, path, None, m.MS_BIND)
            continue
        old = os.umask(0)
        try:
            linux_devices.mknod(path, dev.type, dev.major, dev.minor, dev.file_mode or 0o666)
        finally:
            os.umask(old)
        os.chown(path, dev.uid or 0, dev.gid or 0)
    dev_dir = secure_join(rootfs, "/dev")
    links = list(DEV_LINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for target, link in links:
        path = secure_join(rootfs, link)
        if not os.path.lexists(path):
            os.symlink(target, path)
    ptmx = os.path.join(dev_dir, "ptmx")
    if os.path.isdir(os.path.join(dev_dir, "pts")):
        if os.path.lexists(ptmx):
            os.unlink(ptmx)
        os.symlink("pts/ptmx", ptmx)


def pivot_into(rootfs: str) -> None:
    """pivot_root with the old root stacked on the new one, then detached."""
    os.chdir(rootfs)
    m.pivot_root(".", ".")
    m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
    m.umount(".", m.MNT_DETACH)
    os.chdir("/")


def mask_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
            elif os.path.lexists(path):
                m.mount("/dev/null", path, None, m.MS_BIND)
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise


def readonly_paths(paths: list[str]) -> None:
    for path in paths:
        if not os.path.exists(path):
            continue
        m.mount(path, path, None, m.MS_BIND | m.MS_REC)
        flags = m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | locked_flags(path)
        m.mount(None, path, None, flags | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC)


def finish_root(propagation: str | None, readonly: bool) -> None:
    if propagation:
        m.mount(None, "/", None, mountopts.propagation_flag(propagation))
    if readonly:
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | locked_flags("/"))


def bind_console(pts_path: str) -> None:
    """/dev/console becomes the container's pty slave (only in terminal mode)."""
    if os.path.islink("/dev/console"):
        os.unlink("/dev/console")
    if not os.path.exists("/dev/console"):
        os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    m.mount(pts_path, "/dev/console", None, m.MS_BIND)

"""The one place for raw Linux syscalls, made through ctypes.

Everything above this package asks for kernel work through these functions,
never through ctypes directly, so that unit tests can replace the seam with a
recording fake and integration tests use the real kernel. Each function raises
`OSError` with the errno and the object it acted on; none returns a status.
Modules stay import-cheap: berth-runc's start-up time depends on it.

Modules: `libc` (loading, the C types made from `_ctypes`, error check), `mount` (mount, umount, pivot_root),
`namespaces` (unshare, setns, CLONE_* flags), `process` (prctl options,
sethostname, setdomainname), `capabilities` (capget, capset, bounding and
ambient sets), `seccomp` (libseccomp filters, loaded lazily), `devices`
(mknod), `fds` (seqpacket socketpairs, SCM_RIGHTS, sealed memfds, execveat),
`keys` (keyctl: a new session keyring).
"""

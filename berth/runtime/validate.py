"""Checks on a bundle's spec that `create` makes before it touches anything, so
bad input fails with one clear line and leaves nothing behind."""

from __future__ import annotations

import os

from berth.errors import InvalidArgument
from berth.linux import capabilities as caps
from berth.linux import namespaces as ns
from berth.oci.spec import Spec
from berth.runtime import mountopts


def rootfs_path(spec: Spec, bundle: str) -> str:
    if spec.root is None or not spec.root.path:
        raise InvalidArgument("root.path is missing from config.json")
    path = (
        spec.root.path if spec.root.path.startswith("/") else os.path.join(bundle, spec.root.path)
    )
    path = os.path.realpath(path)
    if not os.path.isdir(path):
        raise InvalidArgument(f"rootfs ({path}) does not exist")
    return path


def check_spec(spec: Spec) -> None:
    process = spec.process
    if process is None or not process.args:
        raise InvalidArgument("process.args must not be empty")
    if not process.cwd.startswith("/"):
        raise InvalidArgument(f"process.cwd {process.cwd!r} is not an absolute path")
    linux = spec.linux
    if linux is None:
        raise InvalidArgument("config.json has no linux section")
    seen: set[str] = set()
    for n in linux.namespaces:
        if n.type not in ns.FLAGS:
            raise InvalidArgument(f"namespace type {n.type!r} is not supported")
        if n.type in seen:
            raise InvalidArgument(f"namespace {n.type!r} is listed twice")
        seen.add(n.type)
        if n.path is not None and not os.path.exists(n.path):
            raise InvalidArgument(f"namespace {n.type} path {n.path} does not exist")
    new = {n.type for n in linux.namespaces if not n.path}
    if "mount" not in seen:
        raise InvalidArgument('berth-runc needs a mount namespace (add {"type": "mount"})')
    if spec.hostname is not None and "uts" not in new:
        raise InvalidArgument("unable to set hostname without a private UTS namespace")
    if spec.domainname is not None and "uts" not in new:
        raise InvalidArgument("unable to set domainname without a private UTS namespace")
    if "user" in new and (not linux.uid_mappings or not linux.gid_mappings):
        raise InvalidArgument("user namespace enabled, but no uid/gid mappings")
    if (linux.uid_mappings or linux.gid_mappings) and "user" not in seen:
        raise InvalidArgument("uid/gid mappings given without a user namespace")
    if linux.rootfs_propagation is not None:
        try:
            mountopts.propagation_flag(linux.rootfs_propagation)
        except KeyError:
            raise InvalidArgument(
                f"invalid rootfsPropagation {linux.rootfs_propagation!r}"
            ) from None
    for m in spec.mounts:
        if not m.destination.startswith("/"):
            raise InvalidArgument(f"mount destination {m.destination!r} is not absolute")
    if process.capabilities is not None:
        c = process.capabilities
        for name in (*c.bounding, *c.effective, *c.inheritable, *c.permitted, *c.ambient):
            if name.upper() not in caps.NUMBERS:
                raise InvalidArgument(f"unknown capability {name!r}")
    for r in process.rlimits:
        if not r.type.startswith("RLIMIT_"):
            raise InvalidArgument(f"unknown rlimit type {r.type}")
    if (
        process.terminal is True
        and process.console_size is not None
        and process.console_size.width < 0
    ):
        raise InvalidArgument("process.consoleSize must not be negative")
    if linux.seccomp is not None:
        from berth.runtime import seccomp

        seccomp.plan(linux.seccomp)

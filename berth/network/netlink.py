"""Applying bridge and veth plans through netlink (pyroute2), and sandboxes.

`host_netns` is None for the real host (berthd) or the path/name of a namespace
that plays the host in tests. A sandbox is a network namespace bind-mounted on a
file (pyroute2's netns.create), with `lo` up, which the OCI runtime joins by path.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from berth.errors import BerthError, Conflict, InternalError
from berth.network.plan import BridgePlan, VethPlan

if TYPE_CHECKING:
    from berth.network.rtnl import Rtnl

log = logging.getLogger(__name__)

LOOPBACK_IFINDEX = 1  # the kernel gives every namespace's `lo` this index


def ns_path(netns: str) -> str:
    """A namespace given by name (iproute2's /run/netns) or by path."""
    return netns if "/" in netns else f"/run/netns/{netns}"


def _in_thread(work, what: str):
    """Run `work` on a short-lived thread and return its result or raise its error.

    Namespace changes (setns, unshare of the network namespace) affect only the
    calling thread; doing them on a throwaway thread leaves berthd's own threads
    where they were, and avoids forking a multi-threaded daemon.
    """
    result: list = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as e:  # re-raised on the caller's thread
            err.append(e)

    t = threading.Thread(target=run, name=f"berth-{what}")
    t.start()
    t.join()
    if err:
        raise err[0]
    return result[0]


def sockets_in(netns: str, kinds: list[tuple[int, int, int]]) -> list[socket.socket]:
    """Sockets created inside the namespace `netns` (they stay there once made)."""
    from berth.linux.namespaces import CLONE_NEWNET, setns

    path = ns_path(netns)

    def work() -> list[socket.socket]:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            setns(target, CLONE_NEWNET, path)
        finally:
            os.close(target)
        # this thread ends right after: it never needs to go back
        return [socket.socket(f, t, p) for f, t, p in kinds]

    try:
        return _in_thread(work, "setns")
    except OSError as e:
        raise InternalError(f"cannot open sockets in network namespace {netns}: {e}") from e


class _Kept:
    """Netlink handles kept open on one namespace, used by one thread at a time."""

    __slots__ = ("closed", "ipr", "lock", "refs", "rtnl")

    def __init__(self, rtnl: Rtnl | None = None) -> None:
        self.ipr = None  # pyroute2's IPRoute, opened when first asked for
        self.rtnl = rtnl  # the plain socket for a container start's requests
        self.lock = threading.RLock()
        self.refs = 1
        self.closed = False

    def close(self) -> None:
        self.closed = True
        for handle in (self.ipr, self.rtnl):
            if handle is not None:
                handle.close()
        self.ipr = self.rtnl = None


_kept: dict[str | None, _Kept] = {}
_kept_lock = threading.Lock()
_bridge_index: dict[tuple[str | None, str], int] = {}  # (namespace, bridge) -> ifindex


def _key(netns: str | None) -> str | None:
    return None if netns is None else ns_path(netns)


def _open(netns: str | None):
    from pyroute2 import IPRoute

    if netns is None:
        return IPRoute()
    (sock,) = sockets_in(netns, [(socket.AF_NETLINK, socket.SOCK_DGRAM, 0)])
    return IPRoute(use_socket=sock)


def keep_open(netns: str | None = None) -> None:
    """Keep one netlink handle on `netns` open for every `netlink(netns)` until `release`.

    Opening a handle costs about as much as two requests (a thread to enter the
    namespace, pyroute2's set-up); a container start makes several requests on the
    host side. Calls nest: each `keep_open` needs its `release`.
    """
    with _kept_lock:
        kept = _kept.get(_key(netns))
        if kept is None:
            _kept[_key(netns)] = _Kept()
        else:
            kept.refs += 1


def release(netns: str | None = None) -> None:
    """Undo one `keep_open` (or the handle `create_sandbox(keep_open=True)` kept);
    the last one closes the handle. A handle on a namespace keeps that namespace
    alive, so every kept handle must be released."""
    with _kept_lock:
        kept = _kept.get(_key(netns))
        if kept is None:
            return
        kept.refs -= 1
        if kept.refs > 0:
            return
        del _kept[_key(netns)]
    with kept.lock:
        kept.close()


@contextlib.contextmanager
def _fresh(netns: str | None) -> Iterator:
    ipr = _open(netns)
    try:
        yield ipr
    finally:
        ipr.close()


@contextlib.contextmanager
def netlink(netns: str | None = None) -> Iterator:
    """An IPRoute on the host, or one whose netlink socket lives in the namespace `netns`:
    the kept one (see `keep_open`) when there is one, else a fresh one closed after."""
    from pyroute2 import NetlinkError

    kept = _kept.get(_key(netns))
    if kept is None:
        with _fresh(netns) as ipr:
            yield ipr
        return
    with kept.lock:
        if kept.closed:  # released meanwhile: behave as without one
            with _fresh(netns) as ipr:
                yield ipr
            return
        if kept.ipr is None:
            kept.ipr = _open(netns)
        try:
            yield kept.ipr
        except (NetlinkError, BerthError):
            raise
        except BaseException:
            # a request cut short may leave its replies queued: start afresh next time
            kept.ipr.close()
            kept.ipr = None
            raise


def _rtnl(netns: str | None) -> Rtnl:
    from berth.network.rtnl import Rtnl, socket_here

    if netns is None:
        return Rtnl(socket_here())
    (sock,) = sockets_in(netns, [(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)])
    return Rtnl(sock)


@contextlib.contextmanager
def rtnl(netns: str | None = None) -> Iterator[Rtnl]:
    """Like `netlink`, for the few requests of a container start (berth/network/rtnl.py)."""
    kept = _kept.get(_key(netns))
    if kept is None or kept.closed:
        one = _rtnl(netns)
        try:
            yield one
        finally:
            one.close()
        return
    with kept.lock:
        if kept.closed:
            one = _rtnl(netns)
            try:
                yield one
            finally:
                one.close()
            return
        if kept.rtnl is None:
            kept.rtnl = _rtnl(netns)
        yield kept.rtnl


def host_routes(netns: str | None = None) -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination the host routes somewhere (default route excluded)."""
    out = []
    with netlink(netns) as ipr:
        for r in ipr.get_routes(family=2, table=254):
            dst = r.get_attr("RTA_DST")
            if dst is None:
                continue
            out.append(ipaddress.IPv4Network(f"{dst}/{r['dst_len']}", strict=False))
        for a in ipr.get_addr(family=2):
            addr = a.get_attr("IFA_ADDRESS")
            if addr and not addr.startswith("127."):
                out.append(ipaddress.IPv4Network(f"{addr}/{a['prefixlen']}", strict=False))
    return out


def _index(ipr, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(plan: BridgePlan, netns: str | None = None) -> None:
    """Create the bridge with its gateway address and bring it up (idempotent)."""
    from pyroute2 import NetlinkError

    _bridge_index.pop((_key(netns), plan.name), None)
    with netlink(netns) as ipr:
        idx = _index(ipr, plan.name)
        if idx is None:
            try:
                ipr.link("add", ifname=plan.name, kind="bridge", mtu=plan.mtu)
            except NetlinkError as e:
                raise InternalError(f"cannot create bridge {plan.name}: {e}") from e
            idx = _index(ipr, plan.name)
        else:
            link = ipr.get_links(idx)[0]
            info = link.get_attr("IFLA_LINKINFO")
            kind = info.get_attr("IFLA_INFO_KIND") if info else None
            if kind != "bridge":
                raise Conflict(f"interface {plan.name} exists and is not a bridge")
        addr, prefix = plan.address.split("/")
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx, family=2)}
        if addr not in have:
            try:
                ipr.addr("add", index=idx, address=addr, prefixlen=int(prefix))
            except NetlinkError as e:
                if e.code != errno.EEXIST:
                    raise InternalError(f"cannot address bridge {plan.name}: {e}") from e
        ipr.link("set", index=idx, state="up")


def delete_link(name: str, netns: str | None = None) -> bool:
    """Delete an interface if it exists; True when one was removed."""
    from pyroute2 import NetlinkError

    _bridge_index.pop((_key(netns), name), None)
    with netlink(netns) as ipr:
        idx = _index(ipr, name)
        if idx is None:
            return False
        try:
            ipr.link("del", index=idx)
        except NetlinkError as e:
            if e.code == errno.ENODEV:
                return False
            raise InternalError(f"cannot delete interface {name}: {e}") from e
        return True


def enslave(ifname: str, bridge: str, netns: str | None = None) -> bool:
    """Attach an existing interface to a bridge (and up); False if either is missing."""
    with netlink(netns) as ipr:
        idx, br = _index(ipr, ifname), _index(ipr, bridge)
        if idx is None or br is None:
            return False
        ipr.link("set", index=idx, master=br, state="up")
        return True


def link_exists(name: str, netns: str | None = None) -> bool:
    with netlink(netns) as ipr:
        return _index(ipr, name) is not None


def add_veth(plan: VethPlan, sandbox: str, netns: str | None = None) -> None:
    """Create the veth pair with its inner end directly in `sandbox`, then address it.

    One request makes the pair, plugs the host end into the bridge and brings it
    up; a leftover host end of the same name (a crash) is replaced.
    """
    from pyroute2 import NetlinkError

    key = (_key(netns), plan.bridge)
    with rtnl(netns) as host:
        fd = os.open(sandbox, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for attempt in range(3):
                br = _bridge_index.get(key)
                cached = br is not None
                if br is None:
                    br = host.link_index(plan.bridge)
                    if br is None:
                        raise InternalError(f"bridge {plan.bridge} is missing")
                    _bridge_index[key] = br
                try:
                    host.add_veth(
                        plan.host_ifname,
                        master=br,
                        mtu=plan.mtu,
                        peer=plan.ctr_ifname,
                        peer_ns_fd=fd,
                        peer_mac=plan.mac,
                    )
                    break
                except NetlinkError as e:
                    # a leftover host end (a crash): replace it
                    if (
                        e.code == errno.EEXIST
                        and attempt == 0
                        and delete_link(plan.host_ifname, netns)
                    ):
                        continue
                    if cached:  # the bridge was rebuilt: look its index up again
                        _bridge_index.pop(key, None)
                        continue
                    raise InternalError(f"cannot create veth {plan.host_ifname}: {e}") from e
            else:
                raise InternalError(f"cannot create veth {plan.host_ifname}: it keeps existing")
        finally:
            os.close(fd)
    try:
        with rtnl(sandbox) as ns:
            idx = ns.link_index(plan.ctr_ifname)
            if idx is None:
                raise InternalError(f"{plan.ctr_ifname} did not appear in {sandbox}")
            ns.add_address(idx, plan.address, plan.prefixlen)
            ns.set_up(idx)
            if plan.gateway:
                ns.add_default_route(plan.gateway, idx)
    except Exception:
        delete_link(plan.host_ifname, netns)
        raise


def set_route_localnet(bridge: str, netns: str | None = None) -> None:
    """Let packets from 127.0.0.0/8 that were DNATed to a container leave by `bridge`.

    Only this bridge's own setting changes.
    """
    check_name = bridge.replace("/", "")
    write_sysctl(f"net/ipv4/conf/{check_name}/route_localnet", "1", netns)


def enable_forwarding(netns: str | None = None) -> None:
    """IPv4 forwarding on, as Docker turns it on: bridged containers reach out, DNAT in."""
    write_sysctl("net/ipv4/ip_forward", "1", netns)


def write_sysctl(key: str, value: str, netns: str | None = None) -> None:
    """Write /proc/sys/<key> as seen from `netns` (the host's when None).

    /proc/sys/net shows the namespace of the thread that opens it, hence the
    throwaway thread for a namespace other than ours.
    """
    from berth.linux.namespaces import CLONE_NEWNET, setns

    path = "/proc/sys/" + key

    def work() -> None:
        if netns is not None:
            fd = os.open(ns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd, CLONE_NEWNET, netns)
            finally:
                os.close(fd)
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)

    try:
        _in_thread(work, "sysctl")
    except OSError as e:
        raise InternalError(f"cannot set {key} to {value}: {e}") from e


def release_dir(directory: Path) -> None:
    """Unmount a namespace directory left bind-mounted on itself (by `ip netns` or an
    older berth, which made it a shared mount) once it holds no namespace."""
    from berth.linux.mount import MNT_DETACH, umount

    key = str(directory)
    if not directory.is_dir() or any(directory.iterdir()):
        return
    while is_mountpoint(key):  # a self-bind: os.path.ismount cannot see it
        try:
            umount(key, MNT_DETACH)
        except OSError:
            break


def is_mountpoint(path: str) -> bool:
    """True if something is mounted on `path` (bind mounts of the same filesystem included)."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == target:
                return True
    return False


def create_sandbox(path: str, *, keep_open: bool = False) -> None:
    """A fresh network namespace bound at `path`, with loopback up.

    Unlike `ip netns`, the directory is not made a shared mount: a copy of the
    bind mount in another mount namespace does not stop `remove_sandbox`
    (unlinking a mount point elsewhere detaches it), and no directory mount is
    left behind by a daemon that was killed. The netlink socket that brings `lo`
    up is made by the same thread that made the namespace; with `keep_open` it
    serves every `rtnl(path)` (and an IPRoute opened once serves `netlink(path)`)
    until `release(path)` or `remove_sandbox(path)`.
    """
    from berth.linux.mount import MS_BIND, mount
    from berth.linux.namespaces import CLONE_NEWNET, unshare
    from berth.network.rtnl import Rtnl, socket_here

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(path):
        remove_sandbox(path)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))

    def work() -> socket.socket:
        unshare(CLONE_NEWNET)  # this thread only; it ends right after
        mount("/proc/thread-self/ns/net", path, None, MS_BIND)
        return socket_here()

    handle = None
    try:
        handle = Rtnl(_in_thread(work, "netns"))
        handle.set_up(LOOPBACK_IFINDEX)
    except BaseException:
        if handle is not None:
            handle.close()
        remove_sandbox(path)
        raise
    if not keep_open:
        handle.close()
        return
    with _kept_lock:
        _kept[_key(path)] = _Kept(handle)


def remove_sandbox(path: str) -> None:
    """Unmount and delete the namespace file; a missing one is fine."""
    from berth.linux.mount import umount

    while _key(path) in _kept:
        release(path)
    if not os.path.lexists(path):
        return
    with contextlib.suppress(OSError):
        umount(path, 2)  # MNT_DETACH
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

"""Published ports: parsing `-p`/`-P` into Docker's PortBindings, and the proxy launcher.

`parse_publish` is what a client uses to turn `-p [ip:][hostPort:]containerPort[/proto]`
into the Engine API's `PortBindings` entries; `requested_mappings` is what the
daemon does with a container's `PortBindings`, `ExposedPorts` and `PublishAllPorts`.
A host port of 0 means "any free port": the proxy binds port 0 and reports the
port the kernel chose, which then goes into the DNAT rule and `inspect`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from berth.errors import InternalError, InvalidArgument

PROTOS = ("tcp", "udp", "sctp")


@dataclass(frozen=True, slots=True)
class PortRequest:
    """One port to publish before the container's address is known."""

    proto: str
    container_port: int
    host_ip: str
    host_port: int  # 0: any

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid {what}: {text!r}")
    return int(text)


def _range(text: str, what: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-", 1)
        a, b = _port(lo, what), _port(hi, what)
        if b < a:
            raise InvalidArgument(f"invalid {what} range: {text}")
        return list(range(a, b + 1))
    return [_port(text, what)]


def parse_port_key(key: str) -> tuple[int, str]:
    """'80/tcp' -> (80, 'tcp'); a missing protocol means tcp."""
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise InvalidArgument(f"invalid protocol {proto!r} in {key!r}")
    return _port(port, "container port"), proto


def parse_publish(spec: str) -> dict[str, list[dict[str, str]]]:
    """`-p` value -> {'80/tcp': [{'HostIp': '', 'HostPort': '8080'}]}."""
    rest, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise InvalidArgument(f"invalid proto: {proto}")
    host_ip = ""
    if rest.startswith("["):
        raise InvalidArgument(f"IPv6 host addresses are not supported: {spec}")
    parts = rest.split(":")
    if len(parts) == 1:
        host_ports: list[str] = [""]
        cports = _range(parts[0], "containerPort")
    elif len(parts) == 2:
        host_ports, cports = [parts[0]], _range(parts[1], "containerPort")
    elif len(parts) == 3:
        host_ip, host_ports, cports = parts[0], [parts[1]], _range(parts[2], "containerPort")
    else:
        raise InvalidArgument(f"invalid port specification: {spec!r}")
    if host_ip:
        import ipaddress

        try:
            ipaddress.IPv4Address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {host_ip}") from None
    hp = host_ports[0]
    hports = [""] * len(cports) if hp == "" else [str(p) for p in _range(hp, "hostPort")]
    if len(hports) not in (1, len(cports)):
        raise InvalidArgument(f"port ranges don't match in size: {spec!r}")
    if len(hports) == 1 and len(cports) > 1:
        hports = hports * len(cports) if hports[0] == "" else hports
        if len(hports) != len(cports):
            raise InvalidArgument(f"port ranges don't match in size: {spec!r}")
    out: dict[str, list[dict[str, str]]] = {}
    for c, h in zip(cports, hports, strict=True):
        out.setdefault(f"{c}/{proto}", []).append({"HostIp": host_ip, "HostPort": h})
    return out


def requested_mappings(
    port_bindings: dict[str, list[dict[str, str]] | None] | None,
    exposed: dict[str, object] | None = None,
    publish_all: bool = False,
) -> list[PortRequest]:
    """What to publish for a container, from its HostConfig and Config."""
    out: list[PortRequest] = []
    seen: set[str] = set()
    for key, bindings in (port_bindings or {}).items():
        cport, proto = parse_port_key(key)
        seen.add(f"{cport}/{proto}")
        for b in bindings or [{}]:
            hp = (b or {}).get("HostPort") or ""
            hport = _range(hp, "hostPort")[0] if hp else 0
            out.append(PortRequest(proto, cport, (b or {}).get("HostIp") or "", hport))
    if publish_all:
        for key in exposed or {}:
            cport, proto = parse_port_key(key)
            if f"{cport}/{proto}" not in seen:
                out.append(PortRequest(proto, cport, "", 0))
    for r in out:
        if r.proto == "sctp":
            raise InvalidArgument(f"publishing sctp port {r.container_port} is not supported")
    return out


@dataclass(frozen=True, slots=True)
class Proxy:
    pid: int
    host_ports: tuple[int, ...]


def start_proxy(
    mappings: list[dict[str, object]], netns_path: str | None = None, owner: str = ""
) -> Proxy:
    """Bind every port of `mappings` here (raise with Docker's message if one is
    taken), then hand the sockets to a new proxy process without waiting for it."""
    if not mappings:
        return Proxy(pid=0, host_ports=())
    import socket

    from berth.network import netlink, proxy

    kinds = [
        (socket.AF_INET, socket.SOCK_STREAM if m["proto"] == "tcp" else socket.SOCK_DGRAM, 0)
        for m in mappings
    ]
    # sockets belong to the namespace they are made in (the host's, or the test's)
    socks = (
        netlink.sockets_in(netns_path, kinds) if netns_path else [socket.socket(*k) for k in kinds]
    )
    try:
        for m, s in zip(mappings, socks, strict=True):
            proxy.bind(s, str(m["proto"]), str(m["host_ip"]), int(m["host_port"]))
        host_ports = tuple(s.getsockname()[1] for s in socks)
        handed = [{**m, "fd": s.fileno()} for m, s in zip(mappings, socks, strict=True)]
        # `owner` (the daemon's exec root) only marks the process, so that tools can
        # tell one daemon's proxies from another's
        argv = [sys.executable, "-m", "berth.network.proxy", json.dumps(handed), owner]
        if netns_path:  # its connections to containers start from that namespace
            argv = ["nsenter", f"--net={netns_path}", *argv]
        proc = subprocess.Popen(
            argv,
            pass_fds=[s.fileno() for s in socks],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # its own process group: a terminal's Ctrl-C or a kill of berthd's group
            # does not reach it. Not its own session: with the kernel's autogroup
            # scheduling a session is a scheduling group of its own, and a proxy
            # alone in one waits longer for the CPU on a busy machine at every
            # wake-up (measured: about 0.75x the requests/s of the same proxy in
            # berthd's group, bench/network.py)
            process_group=0,
        )
    except OSError as e:
        raise InternalError(
            f"driver failed programming external connectivity: {e.strerror or e}"
        ) from None
    finally:
        for s in socks:
            s.close()  # the proxy holds them now
    # The proxy lives in its own process group; a reaper thread is not needed because the
    # daemon stops it by pid. Keep the Popen from warning when garbage-collected.
    proc.returncode = 0
    return Proxy(pid=proc.pid, host_ports=host_ports)


def stop_proxy(pid: int, timeout: float = 5.0) -> None:
    """Terminate a proxy by pid (SIGKILL after `timeout`) and reap it if it is our child.

    A pidfd tells the moment it exits: this runs while a container's exit is
    being handled (`run --rm` waits for it), so no polling interval is added.
    """
    if pid <= 0:
        return
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd (old kernel): poll
        pidfd = None
    try:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 1.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            if _exited(pid, pidfd, wait):
                return
    finally:
        if pidfd is not None:
            os.close(pidfd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _exited(pid: int, pidfd: int | None, timeout: float) -> bool:
    if pidfd is not None:
        import select

        return bool(select.select([pidfd], [], [], timeout)[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
        except ChildProcessError:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(") ")[1].startswith("Z"):
                        return True
            except FileNotFoundError:
                return True
        time.sleep(0.01)
    return False

"""Fixtures for network integration tests: throwaway namespaces, never the host's.

`host_ns` is a network namespace that plays the host: bridges, NAT rules and
port proxies go there, and it is deleted (with everything inside) afterwards.
Tests check that berth removed its own pieces before the namespace goes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


@pytest.fixture
def host_ns():
    """Name of a fresh netns (under /run/netns) with lo up, removed afterwards."""
    _need_root()
    from pyroute2 import NetNS, netns

    name = f"bth{secrets.token_hex(4)}"
    netns.create(name)
    try:
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        yield name
    finally:
        # proxies started inside it must not outlive the test
        for pid in _pids_in_netns(f"/run/netns/{name}"):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        netns.remove(name)


def _pids_in_netns(path: str) -> list[int]:
    try:
        target = os.stat(path)
    except FileNotFoundError:
        return []
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            st = os.stat(f"/proc/{p}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            pids.append(int(p))
    return pids


def in_ns(
    path: str, *argv: str, timeout: float = 20, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a command inside the network namespace at `path`."""
    return subprocess.run(
        ["nsenter", f"--net={path}", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


@pytest.fixture
def exec_root(tmp_path: Path):
    root = tmp_path / "exec"
    root.mkdir()
    yield root
    netns_dir = root / "netns"
    if netns_dir.exists():
        for f in netns_dir.iterdir():
            subprocess.run(["umount", "-l", str(f)], capture_output=True)
        subprocess.run(["umount", "-l", str(netns_dir)], capture_output=True)


def http_get(ns_path: str, host: str, port: int, path: str = "/", timeout: float = 10.0) -> str:
    """GET over a socket made inside `ns_path`; polls until the server answers."""
    import socket
    import time

    from pyroute2.netns import create_socket

    deadline = time.monotonic() + timeout
    while True:
        s = create_socket(ns_path, socket.AF_INET, socket.SOCK_STREAM, flags=0)
        try:
            s.settimeout(3)
            s.connect((host, port))
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0]:
                return body.decode()
            last = head.decode(errors="replace")
        except OSError as e:
            last = str(e)
        finally:
            s.close()
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer from {host}:{port} in {ns_path}: {last}")
        time.sleep(0.05)


def links_gone(host_ns: str, names: list[str], timeout: float = 10.0) -> bool:
    """Poll until none of `names` exists in `host_ns` (the kernel frees veths of a
    deleted namespace asynchronously)."""
    import time

    from berth.network import netlink

    deadline = time.monotonic() + timeout
    while any(netlink.link_exists(n, host_ns) for n in names):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True

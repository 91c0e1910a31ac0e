"""Fixtures for network integration tests: throwaway namespaces, never the host's.

`host_ns` is a network namespace that plays the host: bridges, NAT rules and
port proxies go there, and it is deleted (with everything inside) afterwards.
Tests check that berth removed its own pieces before the namespace goes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mounts import mounts_under, unmount_all
from tests.support.netns import in_ns, scratch_netns
from tests.support.poll import poll

__all__ = ["http_get", "in_ns", "links_gone"]


@pytest.fixture
def host_ns():
    """Name of a fresh netns (under /run/netns) with lo up, removed afterwards with
    every process (port proxies) still inside it."""
    with scratch_netns("bth") as name:
        yield name


@pytest.fixture
def exec_root(tmp_path: Path):
    """An exec root for a network manager; its namespace files (and their directory's
    mount) are unmounted afterwards, whatever the test left."""
    root = tmp_path / "exec"
    root.mkdir()
    try:
        yield root
    finally:
        unmount_all(mounts_under(root))


def http_get(ns_path: str, host: str, port: int, path: str = "/", timeout: float = 10.0) -> str:
    """GET over a socket made inside `ns_path`; polls until the server answers."""
    import socket

    from pyroute2.netns import create_socket

    answers: list[str] = []
    last = ["no attempt"]

    def get() -> bool:
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
                answers.append(body.decode())
                return True
            last[0] = head.decode(errors="replace")
        except OSError as e:
            last[0] = str(e)
        finally:
            s.close()
        return False

    if not poll(get, timeout):
        raise AssertionError(f"no answer from {host}:{port} in {ns_path}: {last[0]}")
    return answers[-1]


def links_gone(host_ns: str, names: list[str], timeout: float = 10.0) -> bool:
    """Poll until none of `names` exists in `host_ns` (the kernel frees veths of a
    deleted namespace asynchronously)."""
    from berth.network import netlink

    return poll(lambda: not any(netlink.link_exists(n, host_ns) for n in names), timeout, 0.02)

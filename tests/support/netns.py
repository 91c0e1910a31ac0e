"""Throwaway network namespaces (never the host's) and running things inside one."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.support import procs


def pids_in_netns(path: str) -> list[int]:
    """Processes (not this one) whose network namespace is the one at `path`."""
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


@contextlib.contextmanager
def scratch_netns(prefix: str = "bth") -> Iterator[str]:
    """A fresh named netns (under /run/netns) with lo up; afterwards every process
    still inside it is killed and the namespace is deleted (with what is in it)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from pyroute2 import NetNS, netns

    name = f"{prefix}{secrets.token_hex(4)}"
    netns.create(name)
    try:
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        yield name
    finally:
        procs.kill(pids_in_netns(f"/run/netns/{name}"))
        netns.remove(name)


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

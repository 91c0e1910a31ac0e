"""A real berthd per test session, from the shared harness (tests/support/berthd.py).

`berthd` runs on a temporary data root, exec root and socket with
busybox:latest made through berth's own route; at the end every container is
removed, the daemon stopped, and the session fails if any mount under its
roots, shim, process, bridge or iptables chain of it is left behind.
Tests that need a daemon with other options use `private_berthd(...)`.
"""

from __future__ import annotations

import pytest

from tests.support.berthd import RUNTIME, Berthd, private_berthd
from tests.support.tools import DOCKER

__all__ = ["DOCKER", "RUNTIME", "Berthd", "private_berthd"]


@pytest.fixture(scope="session")
def berthd():
    with private_berthd("bd-") as d:
        yield d

"""Fixtures every tier shares: the busybox test rootfs and the tools' paths.

The harness itself (private berthd and dockerd, polling, ports, netns, leftover
checks) lives in tests/support/; area conftest.py files turn it into fixtures.
`tool`, `VENV_BIN` and `make_busybox_rootfs` stay importable from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.rootfs import BUSYBOX, make_busybox_rootfs
from tests.support.tools import VENV_BIN, tool

__all__ = ["BUSYBOX", "VENV_BIN", "make_busybox_rootfs", "tool"]


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention busybox rootfs shared by the session; copy it to modify."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")

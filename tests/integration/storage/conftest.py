"""Fixtures for storage integration tests: a mount point that is always unmounted."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.storage import mounting


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root (real mounts)")
    point = tmp_path / "mnt"
    point.mkdir()
    try:
        yield point
    finally:
        for p in mounting.mounts_under(tmp_path):
            mounting.unmount(Path(p))

"""Fixtures for storage integration tests: a mount point that is always unmounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mounts import unmounting
from tests.support.tools import require_root


@pytest.fixture
def mountpoint(tmp_path: Path) -> Iterator[Path]:
    require_root("needs root (real mounts)")
    point = tmp_path / "mnt"
    point.mkdir()
    with unmounting(tmp_path):
        yield point

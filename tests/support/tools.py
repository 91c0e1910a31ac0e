"""Paths of the programs the tests drive: berth's console scripts and the docker CLI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent

# The docker CLI the differential tests use: the newest on PATH (/usr/local/bin's
# 28.x on this kind of machine, API 1.43), else Debian's docker.io.
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def tool(name: str) -> str:
    """Path of one of berth's console scripts in the test environment."""
    path = VENV_BIN / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} is not installed in {VENV_BIN}: run scripts/install-deps.sh"
        )
    return str(path)


def require_root(why: str = "needs root") -> None:
    """Skip the test unless it runs as root (real mounts, namespaces, cgroups)."""
    if os.geteuid() != 0:
        pytest.skip(why)

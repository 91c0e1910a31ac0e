"""Debian's docker CLI (20.10, API 1.41) against berthd.

Before API 1.42 the attach stream's Content-Type always said raw-stream, yet a
container without a tty still sent 8-byte-header frames; an old client reads
the frames, so sending it unframed output loses the output and the exit code.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

OLD_DOCKER = Path("/usr/bin/docker")


def test_debian_docker_cli_gets_output_streams_and_exit_code(berthd):
    if not OLD_DOCKER.exists():
        pytest.skip("Debian's docker.io CLI is not installed (install-deps.sh --test installs it)")
    res = subprocess.run(
        [str(OLD_DOCKER), "-H", berthd.host, "run", "--rm", "busybox",
         "sh", "-c", "echo out; echo err >&2; exit 3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (res.stdout, res.stderr, res.returncode) == ("out\n", "err\n", 3)

"""Fixtures every tier shares: the busybox test rootfs and the tools' paths.

Area-specific fixtures (a berthd per session, a registry, a netns) live in the
conftest.py of that area's test folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Path of one of berth's console scripts in the test environment."""
    path = VENV_BIN / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} is not installed in {VENV_BIN}: run scripts/install-deps.sh"
        )
    return str(path)


def make_busybox_rootfs(root: Path) -> Path:
    """Fill `root` with Debian's static busybox, its applet links, and /etc basics."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static is not installed (scripts/install-deps.sh installs it)")
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "usr/bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run(
        [str(BUSYBOX), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "user:x:1000:1000:user:/home/user:/bin/sh\n"
    )
    (root / "etc" / "group").write_text(
        "root:x:0:\ndaemon:x:1:\nusers:x:100:user\nnogroup:x:65534:\nuser:x:1000:\n"
    )
    return root


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention busybox rootfs shared by the session; copy it to modify."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")

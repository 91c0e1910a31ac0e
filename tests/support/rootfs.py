"""The busybox test rootfs: Debian's static busybox, its applet links, /etc basics."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")


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

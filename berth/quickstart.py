"""`python -m berth.quickstart`: run a first container with berth-runc.

Builds a bundle in a temporary directory (a rootfs made of Debian's static
busybox and its applet links, and a config.json from `berth-runc spec`'s
example), runs `echo hello from berth; uname -a; id` in it with
`berth-runc run`, and removes everything. Until the daemon lands this is the
project's "first command"; it becomes `berth run busybox ...` later.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
COMMAND = "echo hello from berth; uname -a; id"


def make_rootfs(root: Path) -> None:
    """A minimal busybox root filesystem: /bin/busybox, its applets, /etc basics."""
    if not BUSYBOX.exists():
        raise SystemExit("quickstart: /bin/busybox is missing (apt-get install busybox-static)")
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "root"):
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
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")


def berth_runc() -> str:
    script = Path(sys.executable).parent / "berth-runc"
    return str(script) if script.exists() else "berth-runc"


def main() -> int:
    from berth.runtime.example import example_config

    if os.geteuid() != 0:
        print("quickstart: berth-runc needs root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="berth-quickstart-") as tmp:
        bundle = Path(tmp) / "bundle"
        make_rootfs(bundle / "rootfs")
        config = example_config()
        config["process"]["terminal"] = False
        config["process"]["args"] = ["sh", "-c", COMMAND]
        (bundle / "config.json").write_text(json.dumps(config, indent=2))
        container_id = f"quickstart-{os.getpid()}"
        command = [
            berth_runc(),
            "--root",
            str(Path(tmp) / "state"),
            "run",
            "--bundle",
            str(bundle),
            container_id,
        ]
        print(f"$ berth-runc run {container_id}   # {COMMAND}", flush=True)
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

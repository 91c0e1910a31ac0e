"""A private berthd for end-to-end network and volume tests, and a check that it left nothing.

The daemon runs on a temporary data root, exec root and socket. Because its
exec root is not /run/berth, its default bridge is `bt<hash>0` and its
iptables chains `BT<HASH>*`: nothing it creates on the host can be confused
with another daemon's. After it stops, the fixture checks that no bridge,
veth, namespace file, chain or proxy process of it remains.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


class Berthd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "berth.sock"
        self.exec_root = root / "exec"
        self.data_root = root / "data"
        self.proc: subprocess.Popen | None = None
        tag = hashlib.sha256(str(self.exec_root).encode()).hexdigest()[:8]
        self.bridge = f"bt{tag}0"
        self.chain = f"BT{tag.upper()}"

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def start(self) -> None:
        berthd = VENV_BIN / "berthd"
        if not berthd.exists():
            pytest.skip("berthd is not installed")
        self.log = (self.root / "berthd.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(berthd),
                "--data-root",
                str(self.data_root),
                "--exec-root",
                str(self.exec_root),
                "-H",
                self.host,
            ],
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while not self.sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.skip(
                    f"berthd did not start: {(self.root / 'berthd.log').read_text()[-1500:]}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def leftovers(self) -> list[str]:
        """Host objects of this daemon that still exist."""
        from berth.network import netlink

        out = []
        if netlink.link_exists(self.bridge):
            out.append(f"bridge {self.bridge}")
        netns_dir = self.exec_root / "netns"
        if netns_dir.exists():
            out += [f"netns {p}" for p in netns_dir.iterdir()]
            if netlink.is_mountpoint(str(netns_dir)):
                out.append(f"mount {netns_dir}")
        for table in ("nat", "filter"):
            rules = subprocess.run(
                ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
            ).stdout
            out += [f"{table}: {r}" for r in rules.splitlines() if self.chain in r]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"berth.network.proxy" in cmd and str(self.exec_root).encode() in cmd:
                    out.append(f"proxy {pid}")
        return out


def busybox_image_tar(tmp: Path, make_rootfs) -> Path:
    root = tmp / "image-rootfs"
    root.mkdir()
    make_rootfs(root)
    tar = tmp / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        for entry in sorted(root.iterdir()):
            t.add(entry, arcname=entry.name)
    return tar

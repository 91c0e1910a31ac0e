"""A private berthd for end-to-end network and volume tests: the shared harness's
(tests/support/berthd.py). Its exec root is not /run/berth, so its default
bridge is `bt<hash>0` and its iptables chains `BT<HASH>*`; `Berthd.leftovers()`
lists what of them (and of its namespace files and proxies) is on the host.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from tests.support.berthd import Berthd, private_berthd

__all__ = ["Berthd", "busybox_image_tar", "private_berthd"]


def busybox_image_tar(tmp: Path, make_rootfs) -> Path:
    root = tmp / "image-rootfs"
    root.mkdir()
    make_rootfs(root)
    tar = tmp / "busybox.tar"
    with tarfile.open(tar, "w") as t:
        for entry in sorted(root.iterdir()):
            t.add(entry, arcname=entry.name)
    return tar

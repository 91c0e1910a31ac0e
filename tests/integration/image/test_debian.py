"""debian:bookworm from debootstrap (minbase), with no registry.

debootstrap downloads from a Debian mirror ($BERTH_TEST_DEBIAN_MIRROR, default
deb.debian.org) and takes minutes, so the layer tar is cached between runs in
$BERTH_TEST_CACHE (default /var/tmp/berth-test-cache). Which one runs:
- the cache holds the layer tar: the test builds the image from it (no network);
- no cache, the mirror answers: debootstrap runs (slow) and fills the cache;
  a failure then is a failure;
- no cache and no route to the mirror (CI runs the suite in a private network
  namespace with loopback only): skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from berth.image.service import ImageService

CACHE = Path(os.environ.get("BERTH_TEST_CACHE", "/var/tmp/berth-test-cache"))
MIRROR = os.environ.get("BERTH_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
LAYER = CACHE / "debian-bookworm-minbase.tar"


def _unreachable(url: str) -> str | None:
    """Why the mirror at `url` cannot be reached from here, or None when it can."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=5).close()
    except OSError as e:
        return f"{parts.hostname}:{port}: {e}"
    return None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_debian_bookworm_image(overlay_svc: ImageService, tmp_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed")
    if not (LAYER.is_file() and LAYER.stat().st_size > 0):
        why = _unreachable(MIRROR)
        if why:
            pytest.skip(
                f"no debootstrap cache at {LAYER} and the Debian mirror is not reachable "
                f"({why}); run once with network access (or set BERTH_TEST_CACHE / "
                "BERTH_TEST_DEBIAN_MIRROR) to test debian:bookworm"
            )
    CACHE.mkdir(parents=True, exist_ok=True)
    img = overlay_svc.make_debian_image(mirror=MIRROR, cache=LAYER)
    assert img.repo_tags == ["debian:bookworm"]
    assert img.config.config["Cmd"] == ["bash"]
    assert len(overlay_svc.history("debian:bookworm")) == 2
    target = tmp_path / "rootfs"
    overlay_svc.prepare_container_rootfs("c-debian", img.id, target)
    try:
        out = subprocess.run(
            [
                "chroot",
                str(target),
                "/bin/bash",
                "-c",
                ". /etc/os-release; echo $VERSION_CODENAME; dpkg -s apt | head -1",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.split() == ["bookworm", "Package:", "apt"]
    finally:
        overlay_svc.remove_container_rootfs("c-debian", target)

"""debian:bookworm from debootstrap (minbase), with no registry.

debootstrap downloads from Debian's mirror and takes minutes, so the layer tar
is cached between runs in $BERTH_TEST_CACHE (default /var/tmp/berth-test-cache);
the first run is slow, the later ones are not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from berth.errors import InternalError
from berth.image.service import ImageService

CACHE = Path(os.environ.get("BERTH_TEST_CACHE", "/var/tmp/berth-test-cache"))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_debian_bookworm_image(overlay_svc: ImageService, tmp_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        img = overlay_svc.make_debian_image(cache=CACHE / "debian-bookworm-minbase.tar")
    except InternalError as e:
        if any(w in str(e) for w in ("Release", "resolve", "connect", "Temporary failure")):
            pytest.skip(f"Debian's mirror is not reachable from here: {str(e)[-200:]}")
        raise
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

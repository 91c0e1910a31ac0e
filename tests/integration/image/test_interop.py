"""Compatibility with real tools: a private dockerd (save/load both ways), skopeo, umoci.

The dockerd (tests/support/dockerd.py) runs on a private data root and socket
(never the host's), with no iptables and no bridge, and is stopped (with the
containerd it spawned) at the end of the module. Tests skip with the reason
when it cannot start.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.image.service import ImageService
from tests.support.dockerd import Dockerd, private_dockerd


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    """A private dockerd (shared harness; skipped with the reason when it cannot run)."""
    with private_dockerd("bimg-d", text_output=False) as d:
        yield d


def _docker_id(d: Dockerd, ref: str) -> str:
    return d.docker("image", "inspect", "--format", "{{.Id}}", ref, text=True).stdout.strip()


def _docker_files(d: Dockerd, ref: str) -> set[str]:
    cid = d.docker("create", ref, "sh", text=True).stdout.strip()
    try:
        out = d.docker("export", cid).stdout
        with tarfile.open(fileobj=io.BytesIO(out)) as tf:
            return {n.rstrip("/") for n in tf.getnames()}
    finally:
        d.docker("rm", cid)


@pytest.mark.docker
def test_berth_save_loads_into_docker(
    overlay_svc: ImageService, dockerd: Dockerd, tmp_path: Path
) -> None:
    """berth's docker-archive (manifest.json plus an OCI layout, as Docker 25 writes it)
    into dockerd 20.10, which reads manifest.json (it cannot load OCI-only archives)."""
    svc, fmt = overlay_svc, "docker"
    base = svc.make_busybox_image()
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-interop", base.id, target)
    try:
        (target / "root" / "note").write_text("from berth\n")
        (target / "bin" / "arch").unlink()
        two = svc.commit_container(
            "c-interop", base.id, config={"Cmd": ["sh"]}, tags=[f"two-{fmt}:1"]
        )
    finally:
        svc.remove_container_rootfs("c-interop", target)
    archive = tmp_path / "berth.tar"
    with open(archive, "wb") as f:
        svc.save([f"two-{fmt}:1"], f, fmt=fmt)
    res = dockerd.docker("load", "-i", str(archive), text=True, check=False)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"Loaded image: two-{fmt}:1" in out
    assert _docker_id(dockerd, f"two-{fmt}:1") == two.id
    files = _docker_files(dockerd, f"two-{fmt}:1")
    assert {"bin/busybox", "root/note"} <= files and "bin/arch" not in files


@pytest.mark.docker
def test_docker_save_loads_into_berth(
    overlay_svc: ImageService, dockerd: Dockerd, busybox_rootfs: Path, tmp_path: Path
) -> None:
    svc = overlay_svc
    rootfs_tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-cf", str(rootfs_tar), "-C", str(busybox_rootfs), "."], check=True)
    dockerd.docker("import", "--change", 'CMD ["sh"]', str(rootfs_tar), "from-docker:1")
    docker_id = _docker_id(dockerd, "from-docker:1")
    saved = tmp_path / "docker.tar"
    dockerd.docker("save", "-o", str(saved), "from-docker:1")
    with open(saved, "rb") as f:
        (loaded,) = svc.load(f)
    assert loaded.names == ("from-docker:1",)
    assert loaded.image_id == docker_id  # same config bytes, same id
    image = svc.resolve("from-docker:1")
    assert image.config.config["Cmd"] == ["sh"]
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-from-docker", image.id, target)
    try:
        assert (target / "bin" / "busybox").stat().st_size == Path("/bin/busybox").stat().st_size
        out = subprocess.run(
            ["chroot", str(target), "/bin/busybox", "echo", "ok"], capture_output=True, text=True
        )
        assert out.stdout.strip() == "ok"
    finally:
        svc.remove_container_rootfs("c-from-docker", target)


def test_skopeo_and_umoci_read_the_content_store(
    overlay_svc: ImageService, tmp_path: Path, data_root: Path
) -> None:
    if not shutil.which("skopeo") or not shutil.which("umoci"):
        pytest.skip("skopeo and umoci are not installed")
    svc = overlay_svc
    image = svc.make_busybox_image()
    layout = data_root / "content"
    ref = f"oci:{layout}:docker.io/library/busybox:latest"
    out = subprocess.run(
        ["skopeo", "inspect", "--config", ref], capture_output=True, text=True, check=True
    )
    assert '"sh"' in out.stdout
    # skopeo copy re-reads and verifies every blob
    subprocess.run(
        ["skopeo", "copy", ref, f"dir:{tmp_path / 'copy'}"], capture_output=True, check=True
    )
    assert (tmp_path / "copy" / image.id.removeprefix("sha256:")).exists()
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:docker.io/library/busybox:latest", str(bundle)],
        capture_output=True,
        check=True,
    )
    assert (bundle / "rootfs" / "bin" / "busybox").exists()


def test_skopeo_reads_berth_oci_archive(overlay_svc: ImageService, tmp_path: Path) -> None:
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    overlay_svc.make_busybox_image()
    archive = tmp_path / "oci.tar"
    with open(archive, "wb") as f:
        overlay_svc.save(["busybox"], f, fmt="oci")
    out = subprocess.run(
        ["skopeo", "inspect", "--config", f"oci-archive:{archive}:latest"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert '"sh"' in out.stdout


@pytest.mark.docker
def test_round_trip_through_docker_keeps_ids_and_whiteouts(
    overlay_svc: ImageService, dockerd: Dockerd, tmp_path: Path
) -> None:
    """berth -> docker load -> docker save (docker 20.10's legacy layout) -> berth load."""
    svc = overlay_svc
    base = svc.make_busybox_image()
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-trip", base.id, target)
    try:
        (target / "etc" / "motd").write_text("round trip\n")
        (target / "bin" / "arch").unlink()
        two = svc.commit_container("c-trip", base.id, config={"Cmd": ["sh"]}, tags=["trip:1"])
    finally:
        svc.remove_container_rootfs("c-trip", target)
    ours = tmp_path / "ours.tar"
    with open(ours, "wb") as f:
        svc.save(["trip:1"], f)
    dockerd.docker("load", "-i", str(ours))
    theirs = tmp_path / "theirs.tar"
    dockerd.docker("save", "-o", str(theirs), "trip:1")
    svc.delete("trip:1")
    svc.delete("busybox")
    assert svc.list_images() == []
    with open(theirs, "rb") as f:
        (loaded,) = svc.load(f)
    assert loaded.image_id == two.id and loaded.names == ("trip:1",)
    svc.prepare_container_rootfs("c-trip2", two.id, target)
    try:
        assert (target / "etc" / "motd").read_text() == "round trip\n"
        assert not (target / "bin" / "arch").exists()
        assert (target / "bin" / "busybox").exists()
    finally:
        svc.remove_container_rootfs("c-trip2", target)

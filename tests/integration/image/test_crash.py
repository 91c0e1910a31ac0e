"""kill -9 of a process in the middle of `load`: the next start sees all of the image or none.

A child process loads an archive from a pipe; the test kills it at a chosen
point (while the archive is still arriving, or while layers are being
unpacked), then opens the stores again, runs recovery and checks that
images, layer records, layer directories and blobs agree, that nothing
temporary is left, that nothing is mounted, and that loading again works.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from berth.db import open_db
from berth.image.service import ImageService
from berth.storage import mounting
from tests.support.poll import poll

CHILD = """
import sys
from pathlib import Path
from berth.db import open_db
from berth.image.service import ImageService
svc = ImageService(Path(sys.argv[1]), open_db(Path(sys.argv[1]) / "berth.db"), driver=sys.argv[2])
print("ready", flush=True)
svc.load(sys.stdin.buffer)
print("done", flush=True)
"""


def _snapshots(storage: Path) -> list[str]:
    """The meta.json texts of the snapshots present now (racing with the child)."""
    out = []
    for entry in os.scandir(storage):
        try:
            out.append(Path(entry.path, "meta.json").read_text())
        except OSError:
            out.append("")
    return out


def _check_consistent(svc: ImageService, data_root: Path) -> None:
    images = svc.list_images(all=True)
    layers = {x.chain_id for x in svc.images.layers()}
    snapshots = {i.name for i in svc.snapshotter.walk()}
    assert snapshots == layers, "every layer directory has a record and every record a directory"
    for image in images:
        assert set(image.chain_ids) <= layers
    blobs = {b.digest for b in svc.content.walk()}
    assert blobs == svc.images.referenced_blobs()
    assert os.listdir(data_root / "content" / "ingest") == []
    assert os.listdir(data_root / "storage" / "tmp") == []
    assert mounting.mounts_under(data_root) == []


@pytest.mark.parametrize("point", ["archive", "layers", "committed"])
def test_kill_during_load(data_root: Path, driver: str, h, point: str) -> None:
    layers = [h.build(h.entry(f"blob{i}", data=os.urandom(6_000_000))) for i in range(4)]
    archive = h.docker_archive([(["crashy:1"], layers)])
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_root), driver],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        assert proc.stdin is not None
        storage = data_root / "storage" / ("overlay" if driver == "overlay2" else "vfs")
        if point == "archive":
            proc.stdin.write(archive[: len(archive) // 2])
            proc.stdin.flush()
            assert poll(lambda: any((data_root / "storage" / "tmp").iterdir()), 30, 0.002)
        else:

            def feed() -> None:
                try:
                    proc.stdin.write(archive)  # type: ignore[union-attr]
                    proc.stdin.close()  # type: ignore[union-attr]
                except (BrokenPipeError, ValueError):
                    pass

            threading.Thread(target=feed, daemon=True).start()
            assert poll(
                lambda: (
                    any(not e.name.startswith("l") for e in os.scandir(storage))
                    if storage.exists()
                    else False
                ),
                30,
                0.002,
            )
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    svc = ImageService(data_root, open_db(data_root / "berth.db"), driver=driver)
    svc.recover()
    _check_consistent(svc, data_root)
    tags = [i.repo_tags for i in svc.list_images(all=True)]
    assert tags in ([], [["crashy:1"]])  # all of it or none of it
    (loaded,) = svc.load(io.BytesIO(archive))
    assert loaded.names == ("crashy:1",)
    assert len(svc.resolve("crashy:1").chain_ids) == 4
    _check_consistent(svc, data_root)


def test_recover_unmounts_scratch_mounts_and_drops_orphans(
    svc: ImageService, data_root: Path, h
) -> None:
    from berth.linux import mount as m

    svc.make_busybox_image()
    scratch = data_root / "storage" / "tmp" / "export-crashed"
    scratch.mkdir()
    m.mount(str(data_root / "content"), str(scratch), None, m.MS_BIND)
    # a committed snapshot no layer record names (crash between commit and record)
    svc.snapshotter.prepare("extract-orphan", None)
    svc.snapshotter.commit("sha256:" + "e" * 64, "extract-orphan")
    svc.snapshotter.prepare("extract-half", None)  # an extraction that never finished
    (data_root / "content" / "ingest" / "partial").write_bytes(b"half a blob")
    report = svc.recover()
    assert not mounting.is_mounted(scratch)
    assert "sha256:" + "e" * 64 in report.snapshots_removed
    assert "extract-half" in report.snapshots_removed
    assert report.ingest_removed == 1
    _check_consistent(svc, data_root)
    assert [i.repo_tags for i in svc.list_images()] == [["busybox:latest"]]

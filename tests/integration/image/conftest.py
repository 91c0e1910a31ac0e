"""Fixtures for image integration tests: a service on a private data root, archives.

Every mount made under the data root is unmounted when the test ends.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from berth.db import open_db
from berth.image.service import ImageService
from tests.support.mounts import unmounting
from tests.support.tools import require_root


def _load_layertar() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_layertar", Path(__file__).parents[2] / "unit" / "storage" / "layertar.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lt = _load_layertar()


@pytest.fixture(params=["overlay2", "vfs"])
def driver(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def data_root(tmp_path: Path) -> Iterator[Path]:
    require_root("needs root (real mounts, device nodes, trusted xattrs)")
    root = tmp_path / "data"
    root.mkdir()
    with unmounting(tmp_path):
        yield root


@pytest.fixture
def svc(data_root: Path, driver: str) -> ImageService:
    return ImageService(data_root, open_db(data_root / "berth.db"), driver=driver)


@pytest.fixture
def overlay_svc(data_root: Path) -> ImageService:
    return ImageService(data_root, open_db(data_root / "berth.db"), driver="overlay2")


def docker_archive(
    images: Sequence[tuple[Sequence[str], Sequence[bytes]]], *, diff_ids=None
) -> bytes:
    """A docker-save style archive: [(tags, [plain layer tar bytes, ...]), ...]."""
    buf = io.BytesIO()
    manifest = []
    with tarfile.open(fileobj=buf, mode="w") as tf:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

        for n, (tags, layers) in enumerate(images):
            ids = diff_ids or ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
            paths = []
            for layer in layers:
                path = f"{hashlib.sha256(layer).hexdigest()}/layer.tar"
                add(path, layer)
                paths.append(path)
            config = {
                "architecture": "amd64",
                "os": "linux",
                "created": f"2024-01-0{n + 1}T00:00:00Z",
                "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
                "rootfs": {"type": "layers", "diff_ids": ids},
                "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
            }
            raw = json.dumps(config).encode()
            cname = hashlib.sha256(raw).hexdigest() + ".json"
            add(cname, raw)
            manifest.append({"Config": cname, "RepoTags": list(tags), "Layers": paths})
        add("manifest.json", json.dumps(manifest).encode())
    return buf.getvalue()


def storage_dirs(svc: ImageService) -> list[str]:
    """Layer directories the snapshotter holds (committed or active)."""
    return sorted(
        e.name
        for e in os.scandir(svc.snapshotter.root)
        if e.is_dir() and e.name != "l" and not e.name.startswith(".")
    )


def store_state(svc: ImageService) -> dict:
    """Everything a failed operation must leave unchanged."""
    root = svc.snapshotter.root.parent.parent
    return {
        "images": sorted(i.id for i in svc.list_images(all=True)),
        "layers": sorted(x.chain_id for x in svc.images.layers()),
        "dirs": storage_dirs(svc),
        "blobs": sorted(b.digest for b in svc.content.walk()),
        "ingest": sorted(os.listdir(root / "content" / "ingest")),
        "tmp": sorted(os.listdir(root / "storage" / "tmp")),
    }


@pytest.fixture(scope="session")
def h() -> object:
    """The helpers above, for test modules (importlib mode cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        docker_archive=docker_archive,
        storage_dirs=storage_dirs,
        store_state=store_state,
        build=lt.build,
        entry=lt.entry,
    )

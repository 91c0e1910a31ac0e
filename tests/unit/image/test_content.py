"""The content store: verified, atomic, an OCI layout."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from berth.errors import InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image.content import LocalContentStore
from berth.image.types import Descriptor


def test_layout_files(tmp_path: Path) -> None:
    LocalContentStore(tmp_path)
    assert json.loads((tmp_path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((tmp_path / "index.json").read_text())["manifests"] == []


def test_write_read_walk_delete(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    info = cs.write_bytes(b"hello")
    assert info.digest == dg.of_bytes(b"hello")
    assert cs.has(info.digest) and cs.read(info.digest) == b"hello"
    assert (tmp_path / "blobs" / "sha256" / dg.hex_of(info.digest)).read_bytes() == b"hello"
    assert [b.digest for b in cs.walk()] == [info.digest]
    cs.delete(info.digest)
    assert not cs.has(info.digest)
    with pytest.raises(NotFound):
        cs.open(info.digest)


def test_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    wrong = dg.of_bytes(b"other")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        cs.ingest(io.BytesIO(b"payload"), expected=wrong)
    assert list(cs.walk()) == []
    assert list((tmp_path / "ingest").iterdir()) == []


def test_size_mismatch_is_refused(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    with pytest.raises(InvalidArgument, match="size mismatch"):
        cs.ingest(io.BytesIO(b"payload"), expected=dg.of_bytes(b"payload"), size=3)
    assert list(cs.walk()) == []


def test_aborted_writer_and_recover(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    w = cs.writer()
    w.write(b"half")
    # A crash here leaves the temporary file; recover clears it.
    assert len(list((tmp_path / "ingest").iterdir())) == 1
    assert LocalContentStore(tmp_path).recover() == 1
    assert list(cs.walk()) == []


def test_invalid_digest_is_refused(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    with pytest.raises(InvalidArgument):
        cs.has("sha256:../../etc/passwd")


def test_set_index(tmp_path: Path) -> None:
    cs = LocalContentStore(tmp_path)
    d = cs.write_bytes(b"{}")
    cs.set_index(
        [
            Descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                d.digest,
                d.size,
                annotations={"org.opencontainers.image.ref.name": "x:1"},
            )
        ]
    )
    data = json.loads((tmp_path / "index.json").read_text())
    assert data["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "x:1"

"""The content store: blobs addressed by their digest, and nothing else.

Design (after containerd's content store): a blob becomes visible only once
all its bytes have been written, fsynced and checked against the digest the
caller expected; until then it lives under a temporary name in `ingest/`,
which a crash leaves behind and `recover()` clears. Writing the same blob
twice is harmless (the second writer finds it present). The store does not
know about images: which blobs are still needed is the image store's
business, and garbage collection calls `delete` on what nobody references.

On disk the store *is* an OCI image layout, so skopeo and umoci can read it:

    <root>/oci-layout            {"imageLayoutVersion": "1.0.0"}
    <root>/index.json            manifests the image store names (set_index)
    <root>/blobs/sha256/<hex>    the blobs
    <root>/ingest/<random>       blobs being written (not part of the layout)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from berth.errors import InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image.types import OCI_INDEX, OCI_LAYOUT_VERSION, Descriptor, canonical_json
from berth.linux.fs import replace_file, sync_dir

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int


class Writer(Protocol):
    """An open ingestion. `write` chunks, then `commit` (verifies) or `abort`."""

    def write(self, chunk: bytes | memoryview) -> None: ...

    def commit(self) -> BlobInfo: ...

    def abort(self) -> None: ...


class ContentStore(Protocol):
    """Blobs by digest. Every method taking a digest validates it first."""

    def has(self, digest: str) -> bool: ...

    def info(self, digest: str) -> BlobInfo: ...

    def open(self, digest: str) -> BinaryIO: ...

    def path(self, digest: str) -> Path: ...

    def read(self, digest: str) -> bytes: ...

    def writer(self, expected: str | None = None, size: int | None = None) -> Writer: ...

    def write_bytes(self, data: bytes, expected: str | None = None) -> BlobInfo: ...

    def ingest(
        self, stream: BinaryIO, expected: str | None = None, size: int | None = None
    ) -> BlobInfo: ...

    def delete(self, digest: str) -> None: ...

    def walk(self) -> Iterator[BlobInfo]: ...

    def set_index(self, manifests: list[Descriptor]) -> None: ...


class LocalWriter:
    """Writes to ingest/<random>; commit checks digest and size, fsyncs, renames."""

    def __init__(self, store: LocalContentStore, expected: str | None, size: int | None) -> None:
        self._store = store
        self._expected = dg.validate(expected) if expected else None
        self._size = size
        self._digester = dg.Digester()
        self._tmp = store.root / "ingest" / secrets.token_hex(16)
        self._file: BinaryIO | None = open(self._tmp, "xb")  # noqa: SIM115 (closed in commit/abort)

    def write(self, chunk: bytes | memoryview) -> None:
        assert self._file is not None, "writer already closed"
        self._digester.update(chunk)
        self._file.write(chunk)

    def commit(self) -> BlobInfo:
        assert self._file is not None, "writer already closed"
        try:
            actual = self._digester.digest()
            if self._expected is not None and actual != self._expected:
                raise InvalidArgument(f"digest mismatch for blob {self._expected}: got {actual}")
            if self._size is not None and self._digester.size != self._size:
                raise InvalidArgument(
                    f"size mismatch for blob {actual}: expected {self._size}, got {self._digester.size}"
                )
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            final = self._store.path(actual)
            if final.exists():
                self._tmp.unlink()
            else:
                os.rename(self._tmp, final)
                sync_dir(final.parent)
            return BlobInfo(actual, self._digester.size)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class LocalContentStore:
    """The content store on a local directory laid out as an OCI image layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._blobs = self.root / "blobs" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        (self.root / "ingest").mkdir(exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            layout_json = json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}).encode()
            replace_file(layout, layout_json, durable=True)
        if not (self.root / "index.json").exists():
            self.set_index([])

    def recover(self) -> int:
        """Remove half-written blobs a crash left in ingest/; returns how many."""
        count = 0
        for entry in (self.root / "ingest").iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            count += 1
        return count

    def path(self, digest: str) -> Path:
        return self._blobs / dg.hex_of(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def info(self, digest: str) -> BlobInfo:
        try:
            return BlobInfo(digest, self.path(digest).stat().st_size)
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def writer(self, expected: str | None = None, size: int | None = None) -> LocalWriter:
        return LocalWriter(self, expected, size)

    def write_bytes(self, data: bytes, expected: str | None = None) -> BlobInfo:
        actual = dg.of_bytes(data)
        if expected is not None and dg.validate(expected) != actual:
            raise InvalidArgument(f"digest mismatch for blob {expected}: got {actual}")
        if self.has(actual):
            return BlobInfo(actual, len(data))
        w = self.writer(actual, len(data))
        w.write(data)
        return w.commit()

    def ingest(
        self, stream: BinaryIO, expected: str | None = None, size: int | None = None
    ) -> BlobInfo:
        if expected is not None and self.has(expected):
            # Drain nothing: the caller may still need the stream for other data.
            return self.info(expected)
        w = self.writer(expected, size)
        try:
            while chunk := stream.read(CHUNK):
                w.write(chunk)
        except BaseException:
            w.abort()
            raise
        return w.commit()

    def delete(self, digest: str) -> None:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[BlobInfo]:
        for entry in os.scandir(self._blobs):
            if len(entry.name) == 64 and dg.is_digest("sha256:" + entry.name):
                yield BlobInfo("sha256:" + entry.name, entry.stat().st_size)

    def set_index(self, manifests: list[Descriptor]) -> None:
        """Rewrite index.json (atomically) with the manifests that images name."""
        data = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [d.to_json() for d in manifests],
        }
        replace_file(self.root / "index.json", canonical_json(data), durable=True)

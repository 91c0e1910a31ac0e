"""The registry's filesystem store: blobs by digest, repositories as links.

Layout under the root (every write is a rename of a finished temporary file):

    blobs/<algo>/<hex>                                  content, verified
    repositories/<name>/_layers/<algo>/<hex>            blob belongs to repo (empty)
    repositories/<name>/_manifests/revisions/<algo>/<hex>  manifest in repo (media type)
    repositories/<name>/_manifests/tags/<tag>           the tag's digest
    repositories/<name>/_referrers/<algo>/<subject hex>/<algo>:<hex>   (empty)
    uploads/<uuid>/data, uploads/<uuid>/repo             uploads in progress
    gc.lock                                             see `berth.distribution.server.gc`

A blob becomes visible in a repository only through its link, and a link is
made only after the blob's digest was checked. Blobs are shared by every
repository, so a cross-repository mount is just a new link. The store takes the
garbage collector's lock in shared mode around every operation that makes a
blob reachable, and refreshes the blob's mtime there, so a collection running
at the same time either sees the new reference or sees a fresh blob it must
keep.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from berth.distribution.server.errors import RegistryError
from berth.distribution.server.names import split_digest, valid_digest
from berth.linux.fs import replace_file, sync_dir

MAX_MANIFEST = 4 * 1024 * 1024


@dataclass(slots=True)
class ManifestRecord:
    digest: str
    media_type: str
    path: Path
    size: int


@dataclass(slots=True)
class _Hashing:
    """An upload's running hash, kept while the upload's bytes arrive in order."""

    hasher: object
    offset: int


class Store:
    """Filesystem storage for one registry root; safe for many threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("blobs/sha256", "blobs/sha512", "repositories", "uploads"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / "gc.lock"
        self._lock_path.touch(exist_ok=True)
        self._hashing: dict[str, _Hashing] = {}
        self._upload_locks: dict[str, threading.Lock] = {}
        self._mutex = threading.Lock()

    # ---- paths -----------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        algo, hexpart = split_digest(digest)
        return self.root / "blobs" / algo / hexpart

    def repo_path(self, name: str) -> Path:
        return self.root / "repositories" / name

    def _layer_link(self, name: str, digest: str) -> Path:
        algo, hexpart = split_digest(digest)
        return self.repo_path(name) / "_layers" / algo / hexpart

    def _revision(self, name: str, digest: str) -> Path:
        algo, hexpart = split_digest(digest)
        return self.repo_path(name) / "_manifests" / "revisions" / algo / hexpart

    def _tag_path(self, name: str, tag: str) -> Path:
        return self.repo_path(name) / "_manifests" / "tags" / tag

    def _upload_dir(self, upload: str) -> Path:
        return self.root / "uploads" / upload

    # ---- the collector's lock -------------------------------------------
    @contextlib.contextmanager
    def reachability(self) -> Iterator[None]:
        """Hold the GC lock shared while a blob is being made reachable."""
        fd = os.open(self._lock_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # ---- blobs -------------------------------------------------------------
    def blob_in_repo(self, name: str, digest: str) -> Path:
        """The blob's file if `name` links it (manifests count too); else BLOB_UNKNOWN."""
        path = self.blob_path(digest)
        linked = self._layer_link(name, digest).exists() or self._revision(name, digest).exists()
        if not linked or not path.exists():
            raise RegistryError("BLOB_UNKNOWN", "blob unknown to registry", digest)
        return path

    def delete_blob(self, name: str, digest: str) -> None:
        """Unlink the blob from the repository; the collector frees the bytes."""
        link = self._layer_link(name, digest)
        try:
            link.unlink()
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", "blob unknown to registry", digest) from None

    def mount_blob(self, name: str, digest: str, source: str) -> bool:
        """Link a blob another repository has; False when the source lacks it."""
        if not self._layer_link(source, digest).exists() or not self.blob_path(digest).exists():
            return False
        with self.reachability():
            if not self.blob_path(digest).exists():
                return False
            self._link_blob(name, digest)
        return True

    def _link_blob(self, name: str, digest: str) -> None:
        """Mark the blob fresh and link it into `name` (caller holds reachability)."""
        os.utime(self.blob_path(digest))
        link = self._layer_link(name, digest)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.touch()

    def link_existing(self, name: str, digest: str) -> bool:
        """Link a blob the registry already stores (a push of known content)."""
        with self.reachability():
            if not self.blob_path(digest).exists():
                return False
            self._link_blob(name, digest)
        return True

    # ---- uploads -----------------------------------------------------------
    def start_upload(self, name: str) -> str:
        upload = uuidlib.uuid4().hex
        d = self._upload_dir(upload)
        d.mkdir()
        (d / "repo").write_text(name)
        (d / "data").touch()
        with self._mutex:
            self._hashing[upload] = _Hashing(hashlib.sha256(), 0)
        return upload

    def upload_lock(self, upload: str) -> threading.Lock:
        with self._mutex:
            return self._upload_locks.setdefault(upload, threading.Lock())

    def upload_size(self, name: str, upload: str) -> int:
        d = self._upload_dir(upload)
        try:
            if (d / "repo").read_text() != name:
                raise FileNotFoundError(upload)
            return (d / "data").stat().st_size
        except FileNotFoundError:
            raise RegistryError(
                "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", upload
            ) from None

    def append_upload(
        self, name: str, upload: str, chunks: Iterator[bytes], start: int | None
    ) -> int:
        """Append a chunk; `start` (from Content-Range) must equal the current size."""
        size = self.upload_size(name, upload)
        if start is not None and start != size:
            raise RegistryError(
                "RANGE_INVALID", f"chunk starts at {start}, upload has {size} bytes", {"size": size}
            )
        state = self._hashing.get(upload)
        if state is not None and state.offset != size:
            state = None
            self._hashing.pop(upload, None)
        with open(self._upload_dir(upload) / "data", "ab", buffering=0) as f:
            for chunk in chunks:
                f.write(chunk)
                if state is not None:
                    state.hasher.update(chunk)  # type: ignore[attr-defined]
                    state.offset += len(chunk)
            return f.tell()

    def cancel_upload(self, name: str, upload: str) -> None:
        self.upload_size(name, upload)
        self._drop_upload(upload)

    def _drop_upload(self, upload: str) -> None:
        d = self._upload_dir(upload)
        for f in ("data", "repo"):
            with contextlib.suppress(FileNotFoundError):
                (d / f).unlink()
        with contextlib.suppress(OSError):
            d.rmdir()
        with self._mutex:
            self._hashing.pop(upload, None)
            self._upload_locks.pop(upload, None)

    def finish_upload(self, name: str, upload: str, digest: str) -> None:
        """Verify the upload against `digest`, store it as a blob and link it."""
        size = self.upload_size(name, upload)
        data = self._upload_dir(upload) / "data"
        actual = self._upload_digest(upload, data, size, digest)
        if actual != digest:
            self._drop_upload(upload)
            raise RegistryError(
                "DIGEST_INVALID",
                f"provided digest {digest} does not match content {actual}",
                digest,
            )
        target = self.blob_path(digest)
        with self.reachability():
            if target.exists():
                data.unlink()
            else:
                _fsync_file(data)  # the bytes are on disk before the name says they are
                os.rename(data, target)
                sync_dir(target.parent)
            self._link_blob(name, digest)
        self._drop_upload(upload)

    def _upload_digest(self, upload: str, data: Path, size: int, digest: str) -> str:
        algo, _ = split_digest(digest)
        state = self._hashing.get(upload)
        if algo == "sha256" and state is not None and state.offset == size:
            return "sha256:" + state.hasher.hexdigest()  # type: ignore[attr-defined]
        h = hashlib.new(algo)
        with open(data, "rb", buffering=0) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return f"{algo}:{h.hexdigest()}"

    def stale_uploads(self) -> Iterator[tuple[str, Path]]:
        for d in (self.root / "uploads").iterdir():
            yield d.name, d

    # ---- manifests ---------------------------------------------------------
    def resolve(self, name: str, reference: str) -> str:
        """Digest of a tag or digest reference in repository `name`."""
        if valid_digest(reference):
            if not self._revision(name, reference).exists():
                raise RegistryError(
                    "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference}
                )
            return reference
        try:
            digest = self._tag_path(name, reference).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            if not self.repo_path(name).is_dir():
                raise RegistryError(
                    "NAME_UNKNOWN", "repository name not known to registry", {"name": name}
                ) from None
            raise RegistryError(
                "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference}
            ) from None
        if not self._revision(name, digest).exists():
            raise RegistryError(
                "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference}
            )
        return digest

    def get_manifest(self, name: str, reference: str) -> ManifestRecord:
        digest = self.resolve(name, reference)
        media_type = (
            self._revision(name, digest).read_text() or "application/vnd.oci.image.manifest.v1+json"
        )
        path = self.blob_path(digest)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise RegistryError(
                "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": digest}
            ) from None
        return ManifestRecord(digest, media_type, path, size)

    def has_manifest(self, name: str, digest: str) -> bool:
        return self._revision(name, digest).exists() and self.blob_path(digest).exists()

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def put_manifest(
        self,
        name: str,
        digest: str,
        body: bytes,
        media_type: str,
        blobs: list[str],
        tag: str | None,
        subject: str | None,
    ) -> None:
        """Store a manifest already validated by the caller; link what it references."""
        with self.reachability():
            for ref in blobs:
                if not self.has_blob(ref):
                    raise RegistryError(
                        "MANIFEST_BLOB_UNKNOWN", f"blob unknown to registry: {ref}", ref
                    )
            target = self.blob_path(digest)
            if not target.exists():
                replace_file(target, body, durable=True)
            else:
                os.utime(target)
            for ref in blobs:
                self._link_blob(name, ref)
            revision = self._revision(name, digest)
            revision.parent.mkdir(parents=True, exist_ok=True)
            replace_file(revision, media_type.encode(), durable=True)
            if subject is not None:
                algo, hexpart = split_digest(subject)
                ref = self.repo_path(name) / "_referrers" / algo / hexpart / digest
                ref.parent.mkdir(parents=True, exist_ok=True)
                ref.touch()
            if tag is not None:
                path = self._tag_path(name, tag)
                path.parent.mkdir(parents=True, exist_ok=True)
                replace_file(path, digest.encode(), durable=True)

    def delete_manifest(self, name: str, reference: str) -> None:
        """Delete a tag, or a manifest by digest together with the tags naming it."""
        if not valid_digest(reference):
            try:
                self._tag_path(name, reference).unlink()
            except FileNotFoundError:
                raise RegistryError(
                    "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference}
                ) from None
            return
        revision = self._revision(name, reference)
        if not revision.exists():
            raise RegistryError(
                "MANIFEST_UNKNOWN", "manifest unknown", {"name": name, "reference": reference}
            )
        for tag in self.tags(name):
            path = self._tag_path(name, tag)
            with contextlib.suppress(FileNotFoundError):
                if path.read_text().strip() == reference:
                    path.unlink()
        revision.unlink()
        referrers = self.repo_path(name) / "_referrers"
        if referrers.is_dir():
            for link in referrers.glob(f"*/*/{reference}"):
                link.unlink()

    def tags(self, name: str) -> list[str]:
        if not self.repo_path(name).is_dir():
            raise RegistryError(
                "NAME_UNKNOWN", "repository name not known to registry", {"name": name}
            )
        tags_dir = self.repo_path(name) / "_manifests" / "tags"
        if not tags_dir.is_dir():
            return []
        return sorted(p.name for p in tags_dir.iterdir() if not p.name.startswith("."))

    def revisions(self, name: str) -> list[str]:
        out = []
        base = self.repo_path(name) / "_manifests" / "revisions"
        if base.is_dir():
            for algo in base.iterdir():
                out.extend(
                    f"{algo.name}:{p.name}" for p in algo.iterdir() if not p.name.startswith(".")
                )
        return out

    def referrers(self, name: str, subject: str) -> list[str]:
        algo, hexpart = split_digest(subject)
        base = self.repo_path(name) / "_referrers" / algo / hexpart
        if not base.is_dir():
            return []
        return sorted(
            p.name
            for p in base.iterdir()
            if valid_digest(p.name) and self.has_manifest(name, p.name)
        )

    def repositories(self) -> list[str]:
        """Every repository name, sorted (a directory with a `_manifests` or `_layers`)."""
        base = self.root / "repositories"
        found = []
        for dirpath, dirnames, _ in os.walk(base):
            if "_manifests" in dirnames or "_layers" in dirnames:
                found.append(os.path.relpath(dirpath, base))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(found)

    def read_manifest_json(self, digest: str) -> dict:
        with open(self.blob_path(digest), "rb") as f:
            return json.loads(f.read(MAX_MANIFEST + 1))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

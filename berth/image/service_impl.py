"""The images service's workings (the facade in service.py documents the contract).

Consistency rule: files first (verified blobs, committed snapshots, each
atomic), then the database in one transaction. Layer records are written
right after their snapshot is committed, so "a layer record exists" implies
"its snapshot exists"; garbage (snapshots without a record, records no image
needs, blobs no image references) is collected by `gc()`, which skips what an
import in progress is using.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.containers import ContainerFilesystems
from berth.image.content import LocalContentStore
from berth.image.create import ImageCreator
from berth.image.store import (
    ContainerUse,
    DeleteRecord,
    ImageRecord,
    ImageStore,
    LayerRecord,
    NewImage,
)
from berth.image.types import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Manifest,
    parse_manifest,
)
from berth.storage import mounting
from berth.storage.layers import apply_layer
from berth.storage.snapshotter import Kind, get_snapshotter
from berth.timestamps import parse_seconds

log = logging.getLogger(__name__)

EXTRACT_PREFIX = "extract-"
CONTAINER_PREFIX = "container-"


def _own_connection(conn: sqlite3.Connection) -> sqlite3.Connection:
    """A connection of our own to the same file, so that our transactions never
    interleave with another service's on a shared connection (WAL allows many)."""
    from berth.db import open_db

    row = conn.execute("PRAGMA database_list").fetchone()
    path = row[2] if row is not None else ""
    return open_db(path) if path else conn


_OCI_LAYER_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": OCI_LAYER_GZIP,
}


class ServiceCore:
    def __init__(
        self, root: Path, conn: sqlite3.Connection, *, driver: str, max_workers: int
    ) -> None:
        self.root = root
        self.conn = _own_connection(conn)
        self.content = LocalContentStore(root / "content")
        self.images = ImageStore(self.conn)
        self.snapshotter = get_snapshotter(driver, root / "storage")
        self.driver_name = self.snapshotter.name
        self.tmp = root / "storage" / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.max_workers = max_workers
        self._lock = threading.RLock()
        self._db_lock = threading.RLock()
        self._pending: dict[str, int] = {}
        self._leases = 0

    # -- concurrency helpers ------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, chain_ids: Iterable[str] = ()) -> Iterator[None]:
        """While held, GC keeps these layers and deletes no blobs (an import is running)."""
        ids = list(chain_ids)
        with self._lock:
            self._leases += 1
            for c in ids:
                self._pending[c] = self._pending.get(c, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._leases -= 1
                for c in ids:
                    self._pending[c] -= 1
                    if not self._pending[c]:
                        del self._pending[c]

    # -- recovery and garbage collection ----------------------------------------------

    def recover(self):  # -> RecoveryReport
        from berth.image.service import RecoveryReport

        for point in mounting.mounts_under(self.tmp):
            mounting.unmount(Path(point))
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        ingest = self.content.recover()
        removed = list(self.snapshotter.recover())
        for info in list(self.snapshotter.walk()):
            if info.kind is Kind.ACTIVE and info.name.startswith(EXTRACT_PREFIX):
                self._remove_snapshot_tree(info.name)
                removed.append(info.name)
        known = {layer.chain_id for layer in self.images.layers()}
        # Committed snapshots nobody recorded (crash between commit and record).
        changed = True
        while changed:
            changed = False
            infos = list(self.snapshotter.walk())
            parents = {i.parent for i in infos if i.parent}
            for info in infos:
                if (
                    info.kind is Kind.COMMITTED
                    and info.name not in known
                    and info.name not in parents
                ):
                    self.snapshotter.remove(info.name)
                    removed.append(info.name)
                    changed = True
        # Records whose snapshot is gone cannot be used: drop them (and images on them).
        for layer in self.images.layers():
            if not self.snapshotter.exists(layer.chain_id):
                with self._db_lock:
                    lost = self.images.forget_images_on_layer(layer.chain_id)
                log.warning(
                    "layer %s has no snapshot; forgot it and images %s", layer.chain_id, lost
                )
        layers_removed, blobs = self.gc()
        self._write_index()
        return RecoveryReport(
            ingest_removed=ingest,
            snapshots_removed=tuple(removed),
            layers_removed=tuple(layers_removed),
            blobs_removed=blobs,
        )

    def _remove_snapshot_tree(self, key: str) -> None:
        try:
            self.snapshotter.remove(key)
        except NotFound:
            pass

    def gc(self) -> tuple[list[str], int]:
        """Remove layers no image needs and blobs no image references."""
        removed: list[str] = []
        with self._lock:
            for layer in self.images.unreferenced_layers():
                if layer.chain_id in self._pending:
                    continue
                try:
                    if self.snapshotter.exists(layer.chain_id):
                        self.snapshotter.remove(layer.chain_id)
                except Conflict:
                    continue  # a container still builds on it
                with self._db_lock:
                    self.images.remove_layer(layer.chain_id)
                removed.append(layer.chain_id)
            blobs = 0
            if self._leases == 0:
                keep = self.images.referenced_blobs()
                for info in list(self.content.walk()):
                    if info.digest not in keep:
                        with contextlib.suppress(NotFound):
                            self.content.delete(info.digest)
                            blobs += 1
        return removed, blobs

    def _write_index(self) -> None:
        """index.json of the content store: one entry per tag, so skopeo/umoci can read it.

        OCI tools only follow OCI manifests; a Docker schema 2 manifest (pulled)
        is listed through its OCI twin (same config and layers), which register
        stored with the image.
        """
        entries = []
        for row in self.conn.execute(
            "SELECT t.name, i.manifest_digest, i.manifest_media_type FROM image_tags t"
            " JOIN images i ON i.id = t.image_id ORDER BY t.name"
        ):
            name, digest, media_type = row[0], row[1], row[2]
            try:
                if media_type == DOCKER_MANIFEST:
                    digest = self._oci_twin(digest)
                    media_type = OCI_MANIFEST
                size = self.content.info(digest).size
            except NotFound:
                continue
            entries.append(
                Descriptor(
                    media_type=media_type,
                    digest=digest,
                    size=size,
                    annotations={ANNOTATION_REF_NAME: name, ANNOTATION_IMAGE_NAME: name},
                )
            )
        self.content.set_index(entries)

    def _oci_twin(self, docker_manifest_digest: str) -> str:
        """Write (idempotently) the OCI form of a Docker schema 2 manifest; its digest."""
        m = parse_manifest(self.content.read(docker_manifest_digest))
        oci = Manifest(
            config=Descriptor(OCI_CONFIG, m.config.digest, m.config.size),
            layers=tuple(
                Descriptor(
                    _OCI_LAYER_TYPES.get(d.media_type, d.media_type), d.digest, d.size, d.urls
                )
                for d in m.layers
            ),
            media_type=OCI_MANIFEST,
        )
        return self.content.write_bytes(oci.to_bytes()).digest

    # -- unpacking ----------------------------------------------------------------

    def _apply_blob(
        self, desc: Descriptor, parent: str | None, expected: str | None
    ) -> tuple[str, str, int]:
        """Apply one blob into a fresh extraction snapshot: (key, diff id, size)."""
        key = f"{EXTRACT_PREFIX}{secrets.token_hex(12)}"
        self.snapshotter.prepare(key, parent)
        try:
            target = self.snapshotter.apply_target(key)
            with self.content.open(desc.digest) as f:
                applied = apply_layer(f, target, expected_diff_id=expected)
        except BaseException:
            self._remove_snapshot_tree(key)
            raise
        return key, applied.diff_id, applied.size

    def _commit(
        self, key: str, chain_id: str, diff_id: str, parent: str | None, size: int, desc: Descriptor
    ) -> LayerRecord:
        try:
            self.snapshotter.commit(chain_id, key, parent=parent)
        except Conflict:
            self._remove_snapshot_tree(key)  # another import committed it first
        record = LayerRecord(chain_id, diff_id, parent, size)
        with self._db_lock:
            self.images.add_layers([record])
            self.images.add_layer_blob(diff_id, desc.digest, desc.media_type, desc.size)
        return record

    def unpack(self, descs: Sequence[Descriptor], diff_ids: Sequence[str]) -> list[LayerRecord]:
        """Unpack `descs` (blobs in the content store) whose diff ids are known."""
        if len(descs) != len(diff_ids):
            raise InvalidArgument(f"image has {len(descs)} layers but {len(diff_ids)} diff ids")
        chain = dg.chain_ids(list(diff_ids))
        out: list[LayerRecord | None] = [None] * len(chain)
        with self.lease(chain):
            todo = []
            for i, c in enumerate(chain):
                if self.images.has_layer(c) and self.snapshotter.exists(c):
                    out[i] = self.images.layer(c)
                else:
                    todo.append(i)
            if self.snapshotter.independent_layers and len(todo) > 1:
                with ThreadPoolExecutor(min(self.max_workers, len(todo))) as pool:
                    futures = {
                        i: pool.submit(self._apply_blob, descs[i], None, diff_ids[i]) for i in todo
                    }
                    results = {}
                    errors = []
                    for i, fut in futures.items():
                        try:
                            results[i] = fut.result()
                        except BaseException as e:
                            errors.append(e)
                    if errors:
                        for key, _, _ in results.values():
                            self._remove_snapshot_tree(key)
                        raise errors[0]
                for i in todo:
                    key, diff_id, size = results[i]
                    parent = chain[i - 1] if i else None
                    out[i] = self._commit(key, chain[i], diff_id, parent, size, descs[i])
            else:
                for i in todo:
                    parent = chain[i - 1] if i else None
                    key, diff_id, size = self._apply_blob(descs[i], parent, diff_ids[i])
                    out[i] = self._commit(key, chain[i], diff_id, parent, size, descs[i])
        return [r for r in out if r is not None]

    def import_layers(
        self, layers: Sequence[Descriptor], diff_ids: Sequence[str] | None = None
    ) -> list[LayerRecord]:
        if diff_ids is None:
            # Unknown diff ids: apply in order, learning each diff id as we go.
            records: list[LayerRecord] = []
            parent: str | None = None
            with self.lease():
                for desc in layers:
                    key, diff_id, size = self._apply_blob(desc, parent, None)
                    chain_id = (
                        diff_id if parent is None else dg.of_bytes(f"{parent} {diff_id}".encode())
                    )
                    with self.lease([chain_id]):
                        if self.images.has_layer(chain_id) and self.snapshotter.exists(chain_id):
                            self._remove_snapshot_tree(key)
                            records.append(self.images.layer(chain_id))
                        else:
                            records.append(self._commit(key, chain_id, diff_id, parent, size, desc))
                    parent = chain_id
            return records
        return self.unpack(layers, diff_ids)

    # -- images -------------------------------------------------------------------

    def register_image(
        self,
        manifest_digest: str,
        *,
        tags: Sequence[str] = (),
        repo_digests: Sequence[str] = (),
        extra_blobs: Sequence[str] = (),
        parent: str = "",
    ) -> ImageRecord:
        dg.validate(manifest_digest)
        raw = self.content.read(manifest_digest)
        manifest = parse_manifest(raw)
        config_raw = self.content.read(manifest.config.digest)
        if dg.of_bytes(config_raw) != manifest.config.digest:
            raise InvalidArgument(f"config blob {manifest.config.digest} does not match its digest")
        config = ImageConfig.from_bytes(config_raw)
        tag_refs = [refs.parse_tagged(t) for t in tags]
        digest_refs = [refs.parse(d) for d in repo_digests]
        if manifest.media_type == DOCKER_MANIFEST:
            extra_blobs = (*extra_blobs, self._oci_twin(manifest_digest))
        with self.lease(dg.chain_ids(config.diff_ids) if config.diff_ids else ()):
            layers = self.unpack(list(manifest.layers), config.diff_ids)
            new = NewImage(
                id=manifest.config.digest,
                manifest_digest=manifest_digest,
                manifest_media_type=manifest.media_type,
                config_raw=config_raw,
                chain_ids=tuple(x.chain_id for x in layers),
                blobs=(
                    manifest_digest,
                    manifest.config.digest,
                    *(d.digest for d in manifest.layers),
                    *extra_blobs,
                ),
                parent=parent,
                size=sum(x.size for x in layers),
            )
            with self._db_lock:
                record = self.images.add(new, layers, tags=tag_refs, digests=digest_refs)
                self._write_index()
        return record

    def manifest(self, name_or_id: str) -> tuple[bytes, str]:
        image = self.images.resolve(name_or_id)
        return self.content.read(image.manifest_digest), image.manifest_media_type

    def tag(self, source: str, target: str) -> None:
        image = self.images.resolve(source)
        ref = refs.parse(target)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
        with self._db_lock:
            self.images.tag(image.id, ref.tagged_or_latest())
            self._write_index()

    def delete(
        self,
        name_or_id: str,
        *,
        force: bool,
        noprune: bool,
        in_use: Mapping[str, Sequence[ContainerUse]] | None,
    ) -> list[DeleteRecord]:
        with self._lock, self._db_lock:
            records = self.images.delete(
                name_or_id, force=force, prune_parents=not noprune, in_use=in_use
            )
            self._write_index()
        removed, _ = self.gc()
        return records + [DeleteRecord(deleted=c) for c in removed]

    def prune(
        self,
        *,
        all: bool,
        in_use: Mapping[str, Sequence[ContainerUse]] | None,
        filters: Mapping[str, Iterable[str]] | None,
    ):
        from berth.image.service import PruneReport

        filters = dict(filters or {})
        for key in filters:
            if key not in ("label", "label!", "until", "dangling"):
                raise InvalidArgument(f"invalid filter '{key}'")
        dangling = list(filters.get("dangling", []))
        if dangling and dangling[0].lower() in ("false", "0"):
            all = True
        until = None
        for value in filters.get("until", []):
            until = _parse_until(value)
        labels = list(filters.get("label", []))
        not_labels = list(filters.get("label!", []))
        sizes = {x.chain_id: x.size for x in self.images.layers()}
        records: list[DeleteRecord] = []
        with self._lock, self._db_lock:
            for image_id in self.images.prune_candidates(all, in_use, labels, until):
                if not self.images.exists(image_id):
                    continue
                if not_labels and any(
                    _label_has(self.images.get(image_id).labels, lab) for lab in not_labels
                ):
                    continue
                try:
                    records += self.images.delete(image_id, force=True, in_use=in_use)
                except Conflict:
                    continue
            self._write_index()
        removed, _ = self.gc()
        records += [DeleteRecord(deleted=c) for c in removed]
        return PruneReport(deleted=records, space_reclaimed=sum(sizes.get(c, 0) for c in removed))

    def disk_usage(self, in_use: Mapping[str, Sequence[ContainerUse]]):
        from berth.image.service import DiskUsage, ImageUsage

        layers = {x.chain_id: x.size for x in self.images.layers()}
        images = self.images.list(all=True)
        users: dict[str, int] = {}
        for image in images:
            for c in image.chain_ids:
                users[c] = users.get(c, 0) + 1
        rows = []
        for image in images:
            shared = sum(layers.get(c, 0) for c in image.chain_ids if users[c] > 1)
            rows.append(
                ImageUsage(
                    id=image.id,
                    repo_tags=image.repo_tags,
                    created=image.created,
                    size=image.size,
                    shared_size=shared,
                    containers=len(in_use.get(image.id, ())),
                )
            )
        return DiskUsage(layers_size=sum(layers.values()), images=rows)

    def inspect(self, name_or_id: str) -> dict:
        image = self.images.resolve(name_or_id)
        cfg = image.config
        data: dict = {
            "Id": image.id,
            "RepoTags": image.repo_tags,
            "RepoDigests": image.repo_digests,
            "Parent": image.parent,
            "Comment": cfg.history[-1].comment if cfg.history else "",
            "Created": cfg.created,
            "Container": cfg.extra.get("container", ""),
            "ContainerConfig": cfg.extra.get("container_config", {}),
            "DockerVersion": cfg.extra.get("docker_version", ""),
            "Author": cfg.author,
            "Config": cfg.config,
            "Architecture": cfg.architecture,
            "Os": cfg.os,
            "Size": image.size,
            "VirtualSize": image.size,
            "GraphDriver": {"Name": self.driver_name, "Data": self._graph_data(image)},
            "RootFS": {"Type": "layers", "Layers": cfg.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        }
        if cfg.variant:
            data["Variant"] = cfg.variant
        return data

    def _graph_data(self, image: ImageRecord) -> dict:
        if not image.chain_ids:
            return {}
        dirs = [str(self.snapshotter.upper_dir(c)) for c in reversed(image.chain_ids)]
        data = {"UpperDir": dirs[0]}
        if len(dirs) > 1:
            data["LowerDir"] = ":".join(dirs[1:])
        return data

    # -- new images (berth/image/create.py) ---------------------------------------

    @property
    def creator(self) -> ImageCreator:
        return ImageCreator(self)

    def _ingest_layer_file(self, path: Path) -> Descriptor:
        return self.creator.ingest_layer_file(path)

    # -- containers (berth/image/containers.py) ----------------------------------

    @property
    def containers(self) -> ContainerFilesystems:
        return ContainerFilesystems(self)

    # -- archives -----------------------------------------------------------------

    def save(self, names: Sequence[str], out: BinaryIO, fmt: str) -> None:
        from berth.image.archive import save_archive

        save_archive(self, names, out, fmt)

    def load(self, stream: BinaryIO):
        from berth.image.archive import load_archive

        return load_archive(self, stream)


def _label_has(labels: Mapping[str, str], expr: str) -> bool:
    key, eq, value = expr.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _parse_until(value: str) -> float:
    """`until=` as a Unix time, an RFC 3339 time, or a duration (`10m`, `24h`) ago."""
    import re

    text = value.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh])", text)
    if m:
        seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
        return time.time() - seconds
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_seconds(text)
    except ValueError:
        raise InvalidArgument(f"invalid filter 'until={value}'") from None

"""The images service: the one facade the daemon, distribution and build call.

It composes the content store (blobs), the image store (names, metadata) and
a snapshotter (unpacked layers), and keeps them consistent with one rule:
*files first, then one database transaction*. Blobs are verified and renamed
into place, layers are unpacked into temporary snapshots and committed under
their chain id, and only then is the image recorded, in a single
transaction. A crash at any point leaves either the whole image or none of
it; `recover()` (run once at daemon start) removes what the crash left behind:
half-written blobs, temporary snapshots, committed snapshots no layer record
names, container mounts left over.

Layers are unpacked in parallel (a thread pool across layers; each layer is
applied to its own directory, so order does not matter for overlay) and are
shared: a layer whose chain id is already recorded is not unpacked again.
Deleting an image removes only the layers and blobs no other image uses.

Container root filesystems: `prepare_container_rootfs` creates the
container's writable snapshot on top of the image's top layer and mounts it
at the target the daemon chooses; `remove_container_rootfs` undoes both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from berth.image.store import ContainerUse, DeleteRecord, ImageFilters, ImageRecord, LayerRecord
from berth.image.types import Descriptor, Platform
from berth.storage.layers import Change
from berth.storage.snapshotter import Mount


@dataclass(frozen=True, slots=True)
class PruneReport:
    deleted: list[DeleteRecord]
    space_reclaimed: int


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """One image row of `system df -v`: shared = bytes in layers other images use too."""

    id: str
    repo_tags: list[str]
    created: str
    size: int
    shared_size: int
    containers: int


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """`system df` for images: total layer bytes (each shared layer counted once)."""

    layers_size: int
    images: list[ImageUsage] = field(default_factory=list)

    @property
    def reclaimable(self) -> int:
        return sum(i.size - i.shared_size for i in self.images if i.containers == 0)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    ingest_removed: int = 0
    snapshots_removed: tuple[str, ...] = ()
    layers_removed: tuple[str, ...] = ()
    blobs_removed: int = 0


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """What `docker load` prints: a name when the archive tagged it, else the id."""

    image_id: str
    names: tuple[str, ...] = ()

    def messages(self) -> list[str]:
        if self.names:
            return [f"Loaded image: {n}" for n in self.names]
        return [f"Loaded image ID: {self.image_id}"]


class ImageService:
    """Images, layers and container root filesystems under one data root.

    `root` is the daemon's data root: blobs go to <root>/content, layers to
    <root>/storage/<driver>. `conn` is the daemon's open berth.db connection; for a
    file-backed one the service opens its own connection to the same file, so its
    transactions never mix with another service's on a shared connection.
    `driver` is the --storage-driver name ("overlay2", "overlay", "vfs").
    """

    def __init__(
        self,
        root: Path,
        conn: sqlite3.Connection,
        *,
        driver: str = "overlay2",
        max_workers: int = 4,
    ) -> None:
        from berth.image.service_impl import ServiceCore

        self._core = ServiceCore(Path(root), conn, driver=driver, max_workers=max_workers)
        self.content = self._core.content
        self.images = self._core.images
        self.snapshotter = self._core.snapshotter
        self.driver = driver

    # -- lifecycle -------------------------------------------------------------

    def recover(self) -> RecoveryReport:
        """Clear what a crash left (ingests, temporary snapshots, orphans). Daemon start."""
        return self._core.recover()

    def lease(self, chain_ids: Iterable[str] = ()) -> AbstractContextManager[None]:
        """Hold while writing blobs for an image not yet registered (a pull): garbage
        collection then deletes no blobs and keeps the named layers."""
        return self._core.lease(chain_ids)

    # -- images -----------------------------------------------------------------

    def resolve(self, name_or_id: str) -> ImageRecord:
        """NotFound("No such image: x") unless a name, id or unique id prefix matches."""
        return self.images.resolve(name_or_id)

    def list_images(
        self, filters: ImageFilters | None = None, all: bool = False
    ) -> list[ImageRecord]:
        return self.images.list(filters, all=all)

    def inspect(self, name_or_id: str) -> dict:
        """The Engine API's ImageInspect JSON."""
        return self._core.inspect(name_or_id)

    def history(self, name_or_id: str) -> list[dict]:
        """The Engine API's `GET /images/{name}/history` JSON."""
        return self.images.history(name_or_id)

    def tag(self, source: str, target: str) -> None:
        """`docker tag SOURCE TARGET`; TARGET without a tag gets `:latest`."""
        self._core.tag(source, target)

    def delete(
        self,
        name_or_id: str,
        *,
        force: bool = False,
        noprune: bool = False,
        in_use: Mapping[str, Sequence[ContainerUse]] | None = None,
    ) -> list[DeleteRecord]:
        """`docker rmi`: Docker's conflict rules; then frees unreferenced layers and blobs."""
        return self._core.delete(name_or_id, force=force, noprune=noprune, in_use=in_use)

    def prune(
        self,
        *,
        all: bool = False,
        in_use: Mapping[str, Sequence[ContainerUse]] | None = None,
        filters: Mapping[str, Iterable[str]] | None = None,
    ) -> PruneReport:
        """`docker image prune [-a]` (filters: label=, label!=, until=)."""
        return self._core.prune(all=all, in_use=in_use, filters=filters)

    def disk_usage(self, in_use: Mapping[str, Sequence[ContainerUse]] | None = None) -> DiskUsage:
        return self._core.disk_usage(in_use or {})

    # -- layers and images from blobs (pull, build) ---------------------------

    def import_layers(
        self, layers: Sequence[Descriptor], diff_ids: Sequence[str] | None = None
    ) -> list[LayerRecord]:
        """Unpack layer blobs already in the content store, shared by chain id.

        With the config's `diff_ids` the layers are unpacked in parallel and each
        is verified; without, one after another, learning each diff id. Records
        the layers (not an image); returns their records in order. Layers already
        unpacked are skipped, so a pull calls it with each growing prefix of the
        chain as each blob arrives, and unpacks only the newest layer each time.
        """
        return self._core.import_layers(layers, diff_ids)

    def register_image(
        self,
        manifest_digest: str,
        *,
        tags: Sequence[str] = (),
        repo_digests: Sequence[str] = (),
        extra_blobs: Sequence[str] = (),
        parent: str = "",
    ) -> ImageRecord:
        """Record an image whose manifest, config and layer blobs are in the content store.

        Unpacks the layers first. `tags` ("busybox:1"), `repo_digests`
        ("busybox@sha256:..", usually the digest a registry served) and
        `extra_blobs` (an index the manifest came through) are attached.
        """
        return self._core.register_image(
            manifest_digest,
            tags=tags,
            repo_digests=repo_digests,
            extra_blobs=extra_blobs,
            parent=parent,
        )

    def manifest(self, name_or_id: str) -> tuple[bytes, str]:
        """(manifest bytes, media type) of a local image, for push."""
        return self._core.manifest(name_or_id)

    def create_image(
        self,
        *,
        config: dict,
        parent: str = "",
        layer: BinaryIO | None = None,
        created_by: str = "",
        comment: str = "",
        author: str = "",
        tags: Sequence[str] = (),
    ) -> ImageRecord:
        """A new image: the parent's layers plus an optional new layer tar (plain), with
        `config` (Docker's container-config keys: Cmd, Env, ...) replacing the parent's.
        Adds one history entry (empty_layer when no layer). For build and commit."""
        return self._core.creator.create_image(
            config=config,
            parent=parent,
            layer=layer,
            created_by=created_by,
            comment=comment,
            author=author,
            tags=tags,
        )

    # -- containers ----------------------------------------------------------

    def prepare_container_rootfs(
        self, container_id: str, image_id: str, target: Path | None = None
    ) -> list[Mount]:
        """Create the container's writable snapshot; mount it at `target` when given."""
        return self._core.containers.prepare(container_id, image_id, target)

    def mount_container_rootfs(self, container_id: str, target: Path) -> None:
        """Mount an existing container snapshot again (after a daemon or host restart)."""
        self._core.containers.mount(container_id, target)

    def unmount_container_rootfs(self, target: Path) -> None:
        self._core.containers.unmount(target)

    def remove_container_rootfs(self, container_id: str, target: Path | None = None) -> None:
        """Unmount (when `target` is mounted) and delete the container's snapshot."""
        self._core.containers.remove(container_id, target)

    def container_changes(self, container_id: str) -> list[Change]:
        """`docker diff`: A/C/D against the image."""
        return self._core.containers.changes(container_id)

    def container_size(self, container_id: str) -> int:
        """SizeRw: bytes in the container's writable layer."""
        return self._core.containers.size(container_id)

    def export_container(
        self, container_id: str, out: BinaryIO, source: Path | None = None
    ) -> None:
        """`docker export`: a tar of the container's merged filesystem (read from
        `source` when the daemon has the rootfs mounted there)."""
        self._core.containers.export(container_id, out, source)

    def commit_container(
        self,
        container_id: str,
        image_id: str,
        *,
        config: dict,
        created_by: str = "",
        comment: str = "",
        author: str = "",
        tags: Sequence[str] = (),
    ) -> ImageRecord:
        """`docker commit`: the container's changes as a new layer on its image."""
        return self._core.containers.commit(
            container_id,
            image_id,
            config=config,
            created_by=created_by,
            comment=comment,
            author=author,
            tags=tags,
        )

    # -- archives ----------------------------------------------------------------

    def save(self, names: Sequence[str], out: BinaryIO, fmt: str = "docker") -> None:
        """`docker save`: fmt "docker" (manifest.json + repositories + OCI layout, as
        Docker 25 writes) or "oci" (OCI layout only)."""
        self._core.save(names, out, fmt)

    def load(self, stream: BinaryIO) -> list[LoadedImage]:
        """`docker load`: a docker-archive or OCI-layout tar (optionally gzip/zstd)."""
        return self._core.load(stream)

    def import_rootfs(
        self,
        stream: BinaryIO,
        *,
        changes: Sequence[str] = (),
        tag: str | None = None,
        message: str = "",
        platform: Platform | None = None,
    ) -> ImageRecord:
        """`docker import`: a rootfs tarball as a one-layer image; `changes` are
        Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER,
        VOLUME, WORKDIR, STOPSIGNAL, ONBUILD)."""
        return self._core.creator.import_rootfs(
            stream, changes=changes, tag=tag, message=message, platform=platform
        )

    # -- base images with no network ----------------------------------------

    def make_busybox_image(
        self, tag: str = "busybox:latest", busybox: Path = Path("/bin/busybox")
    ) -> ImageRecord:
        """busybox:latest from the host's static busybox: Cmd ["sh"], Env PATH, history."""
        from berth.image.base import busybox_layer

        return self._core.creator.make_base_image(busybox_layer(busybox), tag=tag, cmd=["sh"])

    def make_debian_image(
        self,
        tag: str = "debian:bookworm",
        suite: str = "bookworm",
        mirror: str = "http://deb.debian.org/debian",
        cache: Path | None = None,
    ) -> ImageRecord:
        """debian:bookworm by `debootstrap --variant=minbase` (needs the Debian mirror).

        `cache`: a path where the layer tar is kept and reused (debootstrap takes minutes)."""
        from berth.image.base import debootstrap_layer

        layer = debootstrap_layer(suite, mirror, cache=cache)
        return self._core.creator.make_base_image(layer, tag=tag, cmd=["bash"])

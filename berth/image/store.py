"""The image store: which images exist, their names, and the layers they use.

An image's ID is the digest of its config blob (as in Docker). Each image
points at a manifest in the content store (berth writes one for images that
arrive without: `load`, `import`, `commit`), lists its layers by chain id in
order, and the blobs it keeps alive (manifest, config, layer blobs, the index
it was pulled through). Names are stored normalised (`docker.io/library/
busybox:latest`) and shown familiar (`busybox:latest`). An image with no tag
is *dangling* (`<none>:<none>`).

The store is metadata only, on SQLite (tables from migrations 100-199 in
berth/db.py): it never touches blobs or snapshots. Deleting an image returns
what was untagged and deleted; the caller (berth.image.service) then removes
the layers and blobs no image references any more (`unreferenced_layers`,
`referenced_blobs`). Container usage is the daemon's knowledge, passed in as
`in_use` (image id -> containers using it), so Docker's delete rules (Conflict
unless forced, never while running) are decided here without a dependency on
the daemon.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.filters import ImageFilters, all_labels, ref_matches, unix_time
from berth.image.types import History, ImageConfig


@dataclass(frozen=True, slots=True)
class ContainerUse:
    """A container that uses an image (the daemon knows; the store is told)."""

    container_id: str
    running: bool = False


@dataclass(frozen=True, slots=True)
class LayerRecord:
    """One unpacked layer, shared by every image with the same chain."""

    chain_id: str
    diff_id: str
    parent: str | None
    size: int


@dataclass(frozen=True, slots=True)
class NewImage:
    """What the service registers after unpacking: everything but the names."""

    id: str
    manifest_digest: str
    manifest_media_type: str
    config_raw: bytes
    chain_ids: tuple[str, ...]
    blobs: tuple[str, ...]
    parent: str = ""
    size: int = 0


@dataclass(slots=True)
class ImageRecord:
    """An image as `images` and `inspect` show it."""

    id: str
    manifest_digest: str
    manifest_media_type: str
    parent: str
    created: str
    size: int
    config: ImageConfig
    config_raw: bytes
    chain_ids: list[str]
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    added: float = 0.0

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def dangling(self) -> bool:
        return not self.repo_tags

    @property
    def labels(self) -> dict[str, str]:
        return self.config.labels

    def summary(self, shared_size: int = -1, containers: int = -1) -> dict[str, Any]:
        """The Engine API's ImageSummary (`GET /images/json`)."""
        return {
            "Id": self.id,
            "ParentId": self.parent,
            "RepoTags": self.repo_tags or ["<none>:<none>"],
            "RepoDigests": self.repo_digests,
            "Created": unix_time(self.created) or int(self.added),
            "Size": self.size,
            "SharedSize": shared_size,
            "VirtualSize": self.size,
            "Labels": self.labels or None,
            "Containers": containers,
        }


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    """One line of `docker rmi` output: exactly one of the two is set."""

    untagged: str = ""
    deleted: str = ""

    def to_json(self) -> dict[str, str]:
        return {"Untagged": self.untagged} if self.untagged else {"Deleted": self.deleted}


class ImageStore:
    """Images, names and layer records in SQLite (the caller owns the connection)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- reading -------------------------------------------------------------

    def get(self, image_id: str) -> ImageRecord:
        row = self.conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return self._record(row)

    def exists(self, image_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone()
            is not None
        )

    def resolve(self, name_or_id: str) -> ImageRecord:
        """By name (`busybox`, `busybox:1`, `x@sha256:..`), full id, or unique id prefix."""
        image_id = self.resolve_id(name_or_id)
        return self.get(image_id)

    def resolve_id(self, name_or_id: str) -> str:
        text = name_or_id.strip()
        if not text:
            raise NotFound("No such image: ")
        if text.startswith("sha256:") and len(text) == 71:
            if self.exists(text):
                return text
            raise NotFound(f"No such image: {name_or_id}")
        try:
            ref = refs.parse(text)
        except InvalidArgument:
            ref = None
        if ref is not None:
            if ref.digest:
                row = self.conn.execute(
                    "SELECT image_id FROM image_digests WHERE name = ?",
                    (f"{ref.name}@{ref.digest}",),
                ).fetchone()
                if row is not None:
                    return row[0]
                # Docker also accepts name@digest when the digest is the manifest's.
                row = self.conn.execute(
                    "SELECT i.id FROM images i JOIN image_tags t ON t.image_id = i.id"
                    " WHERE i.manifest_digest = ? AND t.name LIKE ?",
                    (ref.digest, f"{ref.name}:%"),
                ).fetchone()
                if row is not None:
                    return row[0]
            else:
                row = self.conn.execute(
                    "SELECT image_id FROM image_tags WHERE name = ?",
                    (str(ref.tagged_or_latest()),),
                ).fetchone()
                if row is not None:
                    return row[0]
        prefix = text.removeprefix("sha256:")
        if prefix and all(c in "0123456789abcdef" for c in prefix) and len(prefix) <= 64:
            rows = self.conn.execute(
                "SELECT id FROM images WHERE id LIKE ?", (f"sha256:{prefix}%",)
            ).fetchall()
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise InvalidArgument(f"image id prefix {prefix} is ambiguous")
        raise NotFound(f"No such image: {name_or_id}")

    def list(self, filters: ImageFilters | None = None, all: bool = False) -> list[ImageRecord]:
        """Images newest first, as `docker images` lists them.

        Without `all`, intermediate images (untagged parents of other images)
        are hidden, as Docker does.
        """
        filters = filters or ImageFilters()
        records = [self._record(r) for r in self.conn.execute("SELECT * FROM images")]
        parents = {r.parent for r in records if r.parent}
        before = self.resolve(filters.before) if filters.before else None
        since = self.resolve(filters.since) if filters.since else None
        out = []
        for r in records:
            if not all and r.dangling and r.id in parents:
                continue
            if filters.dangling is not None and r.dangling != filters.dangling:
                continue
            if filters.label and not all_labels(r.labels, filters.label):
                continue
            if before is not None and not _created_key(r) < _created_key(before):
                continue
            if since is not None and not _created_key(r) > _created_key(since):
                continue
            if filters.reference:
                tags = [t for t in r.repo_tags if any(ref_matches(t, p) for p in filters.reference)]
                if not tags:
                    continue
                r.repo_tags = tags
            out.append(r)
        out.sort(key=_created_key, reverse=True)
        return out

    def history(self, name_or_id: str) -> list[dict[str, Any]]:
        """`docker history` rows, newest first; layer rows carry the layer size."""
        image = self.resolve(name_or_id)
        sizes = [self.layer(c).size for c in image.chain_ids]
        rows: list[dict[str, Any]] = []
        history = image.config.history or [History(created=image.config.created)] * len(sizes)
        layer_index = 0
        for h in history:
            size = 0
            if not h.empty_layer and layer_index < len(sizes):
                size = sizes[layer_index]
                layer_index += 1
            rows.append(
                {
                    "Id": "<missing>",
                    "Created": unix_time(h.created),
                    "CreatedBy": h.created_by,
                    "Tags": None,
                    "Size": size,
                    "Comment": h.comment,
                }
            )
        # A row gets an image id when a local image (this one or a parent from a
        # build or commit) ends at that history entry, as Docker shows them.
        ancestor: ImageRecord | None = image
        while ancestor is not None and rows:
            end = min(len(ancestor.config.history) or len(ancestor.chain_ids), len(rows)) - 1
            if end >= 0:
                rows[end]["Id"] = ancestor.id
                rows[end]["Tags"] = ancestor.repo_tags or None
            parent = ancestor.parent
            ancestor = self.get(parent) if parent and self.exists(parent) else None
        rows.reverse()
        return rows

    def children(self, image_id: str) -> list[str]:
        return [
            r[0] for r in self.conn.execute("SELECT id FROM images WHERE parent = ?", (image_id,))
        ]

    # -- layers ---------------------------------------------------------------

    def layer(self, chain_id: str) -> LayerRecord:
        row = self.conn.execute("SELECT * FROM layers WHERE chain_id = ?", (chain_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such layer: {chain_id}")
        return LayerRecord(row["chain_id"], row["diff_id"], row["parent"], row["size"])

    def has_layer(self, chain_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM layers WHERE chain_id = ?", (chain_id,)).fetchone()
            is not None
        )

    def layers(self) -> list[LayerRecord]:
        return [
            LayerRecord(r["chain_id"], r["diff_id"], r["parent"], r["size"])
            for r in self.conn.execute("SELECT * FROM layers")
        ]

    def add_layers(self, layers: Sequence[LayerRecord]) -> None:
        with self._tx():
            self._add_layers(layers)

    def _add_layers(self, layers: Sequence[LayerRecord]) -> None:
        for layer in layers:
            self.conn.execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size) VALUES (?,?,?,?)",
                (layer.chain_id, layer.diff_id, layer.parent, layer.size),
            )

    def unreferenced_layers(self) -> list[LayerRecord]:
        """Layers no image needs (directly or as the parent of a needed one), children first."""
        layers = {x.chain_id: x for x in self.layers()}
        needed: set[str] = set()
        for (chain_id,) in self.conn.execute("SELECT DISTINCT chain_id FROM image_layers"):
            while chain_id and chain_id not in needed:
                needed.add(chain_id)
                parent = layers.get(chain_id)
                chain_id = parent.parent if parent else None
        depth: dict[str, int] = {}

        def depth_of(c: str) -> int:
            if c not in depth:
                p = layers[c].parent
                depth[c] = 1 + (depth_of(p) if p in layers else 0)
            return depth[c]

        out = [layer for c, layer in layers.items() if c not in needed]
        out.sort(key=lambda x: depth_of(x.chain_id), reverse=True)
        return out

    def forget_images_on_layer(self, chain_id: str) -> list[str]:
        """Drop every image built on a layer that is gone (recovery only); their ids."""
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT image_id FROM image_layers WHERE chain_id = ?", (chain_id,)
            )
        ]
        with self._tx():
            for image_id in ids:
                for table in ("image_tags", "image_digests", "image_layers", "image_blobs"):
                    self.conn.execute(f"DELETE FROM {table} WHERE image_id = ?", (image_id,))
                self.conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
            self.conn.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))
        return ids

    def remove_layer(self, chain_id: str) -> None:
        self.conn.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))

    def layer_blob(self, diff_id: str) -> tuple[str, str, int] | None:
        """A compressed blob known to hold `diff_id`: (digest, media type, size)."""
        row = self.conn.execute(
            "SELECT digest, media_type, size FROM layer_blobs WHERE diff_id = ?", (diff_id,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def add_layer_blob(self, diff_id: str, digest: str, media_type: str, size: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO layer_blobs (diff_id, digest, media_type, size) VALUES (?,?,?,?)",
            (diff_id, digest, media_type, size),
        )

    def referenced_blobs(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT DISTINCT digest FROM image_blobs")}

    # -- writing --------------------------------------------------------------

    def add(
        self,
        image: NewImage,
        layers: Sequence[LayerRecord] = (),
        tags: Sequence[refs.Reference] = (),
        digests: Sequence[refs.Reference] = (),
    ) -> ImageRecord:
        """Register an image, its layers and names in one transaction (all or nothing)."""
        dg.validate(image.id)
        config = ImageConfig.from_bytes(image.config_raw)
        with self._tx():
            self._add_layers(layers)
            exists = self.conn.execute("SELECT 1 FROM images WHERE id = ?", (image.id,)).fetchone()
            if not exists:
                self.conn.execute(
                    "INSERT INTO images (id, manifest_digest, manifest_media_type, parent, created,"
                    " size, config, added) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        image.id,
                        image.manifest_digest,
                        image.manifest_media_type,
                        image.parent,
                        config.created,
                        image.size,
                        image.config_raw.decode(),
                        time.time(),
                    ),
                )
                for pos, chain_id in enumerate(image.chain_ids):
                    self.conn.execute(
                        "INSERT INTO image_layers (image_id, position, chain_id) VALUES (?,?,?)",
                        (image.id, pos, chain_id),
                    )
            for blob in image.blobs:
                self.conn.execute(
                    "INSERT OR IGNORE INTO image_blobs (image_id, digest) VALUES (?,?)",
                    (image.id, blob),
                )
            for ref in tags:
                self._tag(image.id, ref)
            for ref in digests:
                self._add_digest(image.id, ref)
        return self.get(image.id)

    def tag(self, image_id: str, ref: refs.Reference) -> None:
        """Point `ref` (a tag; `:latest` added) at the image, moving it from any other."""
        with self._tx():
            self._tag(image_id, ref)

    def _tag(self, image_id: str, ref: refs.Reference) -> None:
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {ref}")
        name = str(ref.tagged_or_latest())
        self.conn.execute(
            "INSERT INTO image_tags (name, image_id) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
            (name, image_id),
        )

    def _add_digest(self, image_id: str, ref: refs.Reference) -> None:
        if not ref.digest:
            raise InvalidArgument(f"not a digest reference: {ref}")
        self.conn.execute(
            "INSERT INTO image_digests (name, image_id) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
            (f"{ref.name}@{ref.digest}", image_id),
        )

    def untag(self, ref: refs.Reference) -> str:
        """Remove a tag or digest name; returns the image id it pointed at."""
        with self._tx():
            return self._untag(ref)

    def _untag(self, ref: refs.Reference) -> str:
        if ref.digest:
            table, name = "image_digests", f"{ref.name}@{ref.digest}"
        else:
            table, name = "image_tags", str(ref.tagged_or_latest())
        row = self.conn.execute(f"SELECT image_id FROM {table} WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {ref.familiar()}")
        self.conn.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
        return row[0]

    def delete(
        self,
        name_or_id: str,
        *,
        force: bool = False,
        prune_parents: bool = True,
        in_use: Mapping[str, Sequence[ContainerUse]] | None = None,
    ) -> list[DeleteRecord]:
        """Docker's `rmi` rules; returns the Untagged/Deleted lines (no layers here)."""
        in_use = in_use or {}
        image_id = self.resolve_id(name_or_id)
        records: list[DeleteRecord] = []
        with self._tx():
            names = self._names(image_id)
            by_ref = not _is_id_prefix(image_id, name_or_id)
            if by_ref:
                ref = refs.parse(name_or_id)
                if not ref.digest:
                    ref = ref.tagged_or_latest()
                users = in_use.get(image_id, ())
                if not force and len(names) == 1 and users:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{name_or_id}" '
                        f"(must force) - container {users[0].container_id[:12]} is using its "
                        f"referenced image {_short(image_id)}"
                    )
                self._untag(ref)
                records.append(DeleteRecord(untagged=ref.familiar()))
                remaining = self._names(image_id)
                # A removed tag takes the digests of its repository along when
                # they are the only names left in it, as Docker does.
                if remaining and all("@" in n for n in remaining):
                    for n in remaining:
                        if n.split("@")[0] == ref.name:
                            self.conn.execute("DELETE FROM image_digests WHERE name = ?", (n,))
                            records.append(DeleteRecord(untagged=refs.familiar(n)))
                    remaining = self._names(image_id)
                if remaining:
                    return records
                self._delete_helper(image_id, records, force, prune_parents, in_use, quiet=True)
                return records
            repos = {refs.parse(n).name for n in names}
            if len(repos) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {_short(image_id)} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
            self._delete_helper(image_id, records, force, prune_parents, in_use, quiet=False)
        return records

    def _delete_helper(
        self,
        image_id: str,
        records: list[DeleteRecord],
        force: bool,
        prune_parents: bool,
        in_use: Mapping[str, Sequence[ContainerUse]],
        quiet: bool,
    ) -> None:
        users = in_use.get(image_id, ())
        conflict = None
        if self.children(image_id):
            conflict = (
                f"conflict: unable to delete {_short(image_id)} (cannot be forced) - "
                "image has dependent child images"
            )
        elif any(u.running for u in users):
            running = next(u for u in users if u.running)
            conflict = (
                f"conflict: unable to delete {_short(image_id)} (cannot be forced) - "
                f"image is being used by running container {running.container_id[:12]}"
            )
        elif not force and users:
            conflict = (
                f"conflict: unable to delete {_short(image_id)} (must be forced) - "
                f"image is being used by stopped container {users[0].container_id[:12]}"
            )
        if conflict:
            if quiet:
                return
            raise Conflict(conflict)
        for name in self._names(image_id):
            self.conn.execute("DELETE FROM image_tags WHERE name = ?", (name,))
            self.conn.execute("DELETE FROM image_digests WHERE name = ?", (name,))
            records.append(DeleteRecord(untagged=refs.familiar(name)))
        parent = self.conn.execute(
            "SELECT parent FROM images WHERE id = ?", (image_id,)
        ).fetchone()[0]
        self.conn.execute("DELETE FROM image_layers WHERE image_id = ?", (image_id,))
        self.conn.execute("DELETE FROM image_blobs WHERE image_id = ?", (image_id,))
        self.conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        records.append(DeleteRecord(deleted=image_id))
        if (
            prune_parents
            and parent
            and self.exists(parent)
            and not self._names(parent)
            and not self.children(parent)
            and not in_use.get(parent)
        ):
            self._delete_helper(parent, records, False, True, in_use, quiet=True)

    def prune_candidates(
        self,
        all: bool,
        in_use: Mapping[str, Sequence[ContainerUse]] | None = None,
        labels: Sequence[str] = (),
        until: float | None = None,
    ) -> list[str]:
        """Ids `image prune` removes: dangling ones (or every unused with `all`)."""
        in_use = in_use or {}
        out = []
        for r in self.list(all=True):
            if in_use.get(r.id):
                continue
            if not all and not r.dangling:
                continue
            if labels and not all_labels(r.labels, labels):
                continue
            if until is not None and _created_key(r) >= until:
                continue
            out.append(r.id)
        return out

    # -- helpers --------------------------------------------------------------

    def _names(self, image_id: str) -> list[str]:
        tags = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM image_tags WHERE image_id = ?", (image_id,)
            )
        ]
        digests = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM image_digests WHERE image_id = ?", (image_id,)
            )
        ]
        return sorted(tags) + sorted(digests)

    def _record(self, row: sqlite3.Row) -> ImageRecord:
        image_id = row["id"]
        names = self._names(image_id)
        config_raw = row["config"].encode()
        chain_ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY position",
                (image_id,),
            )
        ]
        return ImageRecord(
            id=image_id,
            manifest_digest=row["manifest_digest"],
            manifest_media_type=row["manifest_media_type"],
            parent=row["parent"] or "",
            created=row["created"],
            size=row["size"],
            config=ImageConfig.from_bytes(config_raw),
            config_raw=config_raw,
            chain_ids=chain_ids,
            repo_tags=[refs.familiar(n) for n in names if "@" not in n],
            repo_digests=[refs.familiar(n) for n in names if "@" in n],
            added=row["added"],
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, nesting-safe (inner ones join the outer)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.outer = False

    def __enter__(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.outer = True

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _is_id_prefix(image_id: str, text: str) -> bool:
    t = text.removeprefix("sha256:")
    return bool(t) and image_id.removeprefix("sha256:").startswith(t)


def _created_key(r: ImageRecord) -> float:
    return unix_time(r.created) or r.added

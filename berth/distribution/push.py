"""Push: a local image's blobs and manifest to a registry.

    push(ref) ─ the image's manifest exactly as stored (so its digest is kept)
              ─ per layer, up to N at once: "Layer already exists" (HEAD), or
                "Mounted from <repo>" (a cross-repository mount from a repository
                of the same registry where the blob was seen), or uploaded
                (monolithic PUT, or PATCH chunks of `chunk_size`) with progress
              ─ the config blob, then the manifest under the tag
              ─ "<tag>: digest: sha256:... size: N", and the image gains that
                RepoDigest

Messages are Docker's JSON progress messages.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from berth import errors
from berth.distribution.client import RegistryClient
from berth.distribution.progress import Emit, Reporter, short_id
from berth.distribution.session import Session
from berth.distribution.sources import SourceStore
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.types import Descriptor, Manifest, parse_manifest_or_index

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PushResult:
    reference: str
    digest: str
    size: int
    layers_uploaded: int = 0
    layers_mounted: int = 0
    layers_existing: int = 0


class Pusher:
    def __init__(
        self,
        service: object,  # berth.image.service.ImageService
        session: Session,
        *,
        sources: SourceStore | None = None,
        max_concurrent_uploads: int = 5,
        chunk_size: int | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        self.service = service
        self.session = session
        self.sources = sources
        self.max_concurrent = max(1, max_concurrent_uploads)
        self.chunk_size = chunk_size
        self._db_lock = lock or threading.Lock()

    def push(
        self,
        reference: str,
        *,
        all_tags: bool = False,
        emit: Emit | None = None,
        quiet: bool = False,
    ) -> list[PushResult]:
        ref = refs.parse(reference)
        report = Reporter(None if quiet else emit)
        if ref.digest:
            raise errors.InvalidArgument(f"cannot push a digest reference: {reference}")
        if all_tags:
            if ref.tag:
                raise errors.InvalidArgument("tag can't be used with --all-tags/-a")
            targets = self._local_tags(ref)
        else:
            targets = [ref.tagged_or_latest()]
        report.status(f"The push refers to repository [{ref.name}]")
        return [self._push_one(t, report) for t in targets]

    def _local_tags(self, ref: refs.Reference) -> list[refs.Reference]:
        found = []
        for image in self.service.images.list(all=True):  # type: ignore[attr-defined]
            for tag in image.repo_tags:
                t = refs.parse(tag)
                if t.name == ref.name and t.tag:
                    found.append(t)
        if not found:
            raise errors.NotFound(
                f"An image does not exist locally with the tag: {ref.familiar_name}"
            )
        return sorted(found, key=lambda r: r.tag or "")

    def _push_one(self, ref: refs.Reference, report: Reporter) -> PushResult:
        """One tag, under a lease: a concurrent rmi or prune deletes no blob it reads."""
        with self.service.lease():  # type: ignore[attr-defined]
            return self._push_leased(ref, report)

    def _push_leased(self, ref: refs.Reference, report: Reporter) -> PushResult:
        try:
            record = self.service.resolve(str(ref))  # type: ignore[attr-defined]
        except errors.NotFound:
            raise errors.NotFound(
                f"An image does not exist locally with the tag: {ref.familiar()}"
            ) from None
        body, media_type = self.service.manifest(record.id)  # type: ignore[attr-defined]
        parsed = parse_manifest_or_index(body, media_type)
        if not isinstance(parsed, Manifest):
            raise errors.InvalidArgument(
                f"image {ref.familiar()} has an index, not a manifest, to push"
            )
        client = self.session.client(ref.domain)
        repo = ref.path
        result = PushResult(ref.familiar(), dg.of_bytes(body), len(body))
        layers = list(parsed.layers)
        content = self.service.content  # type: ignore[attr-defined]
        for d in (*layers, parsed.config):
            if not content.has(d.digest):
                raise errors.NotFound(
                    f"blob {d.digest} of image {ref.familiar()} is not in the content store"
                )
        for d in reversed(layers):
            report.status("Preparing", short_id(d.digest))
        for d in reversed(layers):
            report.status("Waiting", short_id(d.digest))
        with ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="push") as pool:
            outcomes = list(pool.map(lambda d: self._push_blob(client, repo, d, report), layers))
        self._push_blob(client, repo, parsed.config, None)
        for outcome in outcomes:
            if outcome == "uploaded":
                result.layers_uploaded += 1
            elif outcome == "mounted":
                result.layers_mounted += 1
            else:
                result.layers_existing += 1
        digest = client.put_manifest(repo, ref.tag or refs.DEFAULT_TAG, body, media_type)
        if digest != result.digest:
            raise errors.InternalError(
                f"registry stored manifest of {ref.familiar()} as {digest}, expected {result.digest}"
            )
        report.status(f"{ref.tag}: digest: {digest} size: {len(body)}")
        report.aux({"Tag": ref.tag, "Digest": digest, "Size": len(body)})
        self._remember(ref, record, client, repo, digest, [*layers, parsed.config])
        return result

    def _push_blob(
        self, client: RegistryClient, repo: str, desc: Descriptor, report: Reporter | None
    ) -> str:
        lid = short_id(desc.digest)
        if client.blob_size(repo, desc.digest) is not None:
            if report:
                report.status("Layer already exists", lid)
            return "existing"
        if self.sources is not None:
            with self._db_lock:
                candidates = self.sources.repositories(desc.digest, client.endpoint.host)
            for source in candidates:
                if source != repo and client.mount_blob(repo, desc.digest, source):
                    if report:
                        report.status(f"Mounted from {source}", lid)
                    return "mounted"
        path = self.service.content.path(desc.digest)  # type: ignore[attr-defined]

        def progress(n: int) -> None:
            if report:
                report.progress("Pushing", lid, n, desc.size)

        client.upload_blob(
            repo,
            desc.digest,
            desc.size,
            lambda: open(path, "rb"),  # noqa: SIM115 (upload_blob closes it)
            chunk_size=self.chunk_size,
            progress=progress,
        )
        if report:
            report.status("Pushed", lid)
        return "uploaded"

    def _remember(
        self,
        ref: refs.Reference,
        record: object,
        client: RegistryClient,
        repo: str,
        digest: str,
        blobs: list[Descriptor],
    ) -> None:
        from berth.image.store import NewImage

        with self._db_lock:
            if self.sources is not None:
                for d in blobs:
                    self.sources.add(d.digest, client.endpoint.host, repo)
            r = record
            if not self.service.images.exists(r.id):  # type: ignore[attr-defined]
                # Removed while it was pushed: the push stands, no record to revive.
                log.info("image %s was removed during its push to %s", r.id, repo)  # type: ignore[attr-defined]
                return
            self.service.images.add(  # type: ignore[attr-defined]
                NewImage(
                    id=r.id,  # type: ignore[attr-defined]
                    manifest_digest=r.manifest_digest,  # type: ignore[attr-defined]
                    manifest_media_type=r.manifest_media_type,  # type: ignore[attr-defined]
                    config_raw=r.config_raw,  # type: ignore[attr-defined]
                    chain_ids=tuple(r.chain_ids),  # type: ignore[attr-defined]
                    blobs=(),
                ),
                digests=[ref.repository().with_digest(digest)],
            )

"""Pull: a reference from a registry into the images service.

    pull(ref) ─ manifest (by tag or digest; an index picks the platform's entry)
              ─ config (verified; its diff ids name the layers' snapshots)
              ─ per layer, in order: "Already exists" when its chain is unpacked,
                else downloaded (up to N at once, into the content store, digest
                checked) and unpacked (`ImageService.import_layers` of the layers
                up to it) as soon as it and the layers below it are there;
                layers whose downloads finished meanwhile go in the same call,
                unpacked in parallel where the snapshotter allows
              ─ the image and its names registered in one transaction
                (`ImageService.register_image`)

The whole pull holds `ImageService.lease` (blobs, then the image's chain ids),
so a concurrent rmi or prune cannot collect what it stored before the image
references it. Nothing is registered until every layer is unpacked, so a failure at any point
(bad digest, missing blob, broken connection after the retries, unauthorized,
malformed manifest) leaves no image behind; verified blobs and unpacked layers
that did arrive stay as shared, unreferenced content for the next pull or for
garbage collection, as in Docker. Progress goes out as Docker's JSON messages.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from berth import errors
from berth.distribution.client import FetchedManifest, RegistryClient
from berth.distribution.progress import Emit, Reporter, short_id
from berth.distribution.session import Session
from berth.distribution.sources import SourceStore
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.types import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    ImageConfig,
    Manifest,
    Platform,
    host_platform,
    parse_manifest_or_index,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PullResult:
    reference: str  # familiar: busybox:latest
    image_id: str
    digest: str  # what the tag pointed at (index or manifest)
    downloaded: bool  # False: "Image is up to date"
    layers_fetched: int = 0
    bytes_fetched: int = 0


@dataclass(slots=True)
class _Layer:
    desc: Descriptor
    diff_id: str
    chain_id: str
    present: bool
    future: Future | None = None


@dataclass(slots=True)
class _Resolved:
    client: RegistryClient
    repo: str
    top: FetchedManifest  # what the reference pointed at
    manifest: FetchedManifest  # the platform's image manifest
    parsed: Manifest
    blobs: list[str] = field(default_factory=list)


class Puller:
    """Pulls into one set of stores; safe to share between threads (one pull each)."""

    def __init__(
        self,
        service: object,  # berth.image.service.ImageService
        session: Session,
        *,
        sources: SourceStore | None = None,
        max_concurrent_downloads: int = 3,
        lock: threading.Lock | None = None,
    ) -> None:
        self.service = service
        self.content = service.content  # type: ignore[attr-defined]
        self.images = service.images  # type: ignore[attr-defined]
        self.session = session
        self.sources = sources
        self.max_concurrent = max(1, max_concurrent_downloads)
        self._db_lock = lock or threading.Lock()

    def pull(
        self,
        reference: str,
        *,
        platform: Platform | None = None,
        all_tags: bool = False,
        emit: Emit | None = None,
        quiet: bool = False,
    ) -> list[PullResult]:
        """Pull `reference` (every tag of its repository with `all_tags`)."""
        ref = refs.parse(reference)
        report = Reporter(None if quiet else emit)
        if not all_tags:
            result = self._pull_one(ref.tagged_or_latest(), platform or host_platform(), report)
            return [result]
        if not ref.is_name_only:
            raise errors.InvalidArgument("tag can't be used with --all-tags/-a")
        client = self.session.client(ref.domain)
        tags = client.tags(ref.path)
        if not tags:
            raise errors.NotFound(f"repository {ref.familiar_name} has no tags")
        results = [
            self._pull_one(ref.with_tag(t), platform or host_platform(), report) for t in tags
        ]
        return results

    # ---- resolution --------------------------------------------------------------
    def resolve(self, ref: refs.Reference, platform: Platform) -> _Resolved:
        """Fetch the manifest (through an index if needed), trying mirrors first."""
        last: Exception | None = None
        for client in self.session.clients(ref.domain):
            try:
                return self._resolve_with(client, ref, platform)
            except (errors.Unavailable, errors.NotFound) as e:
                if not client.endpoint.mirror:
                    raise
                log.info("mirror %s failed for %s: %s", client.endpoint.host, ref, e)
                last = e
        raise errors.Unavailable(f"no endpoint could serve {ref}: {last}")

    def _resolve_with(
        self, client: RegistryClient, ref: refs.Reference, platform: Platform
    ) -> _Resolved:
        repo = ref.path
        top = client.get_manifest(
            repo, ref.digest or ref.tag or refs.DEFAULT_TAG, display=ref.familiar()
        )
        manifest = top
        parsed = _parse(top, ref)
        blobs = [top.digest]
        if not isinstance(parsed, Manifest):
            child = parsed.select(platform)
            manifest = client.get_manifest(
                repo, child.digest, display=f"{ref.familiar_name}@{child.digest}"
            )
            parsed = _parse(manifest, ref)
            if not isinstance(parsed, Manifest):
                raise errors.InvalidArgument(f"malformed manifest for {ref}: nested index")
            blobs.append(manifest.digest)
        return _Resolved(client, repo, top, manifest, parsed, blobs)

    # ---- one reference -----------------------------------------------------------
    def _pull_one(self, ref: refs.Reference, platform: Platform, report: Reporter) -> PullResult:
        """One image, under leases of the images service: while this pull runs, a
        concurrent rmi or prune collects none of the blobs it stored and none of
        the layers it found or unpacked before `register_image` references them."""
        with contextlib.ExitStack() as held:
            held.enter_context(self.service.lease())  # type: ignore[attr-defined]
            return self._pull_leased(ref, platform, report, held)

    def _pull_leased(
        self,
        ref: refs.Reference,
        platform: Platform,
        report: Reporter,
        held: contextlib.ExitStack,
    ) -> PullResult:
        r = self.resolve(ref, platform)
        # After the manifest arrived: an unknown tag fails before any message, so
        # the API can answer it with a status code, as Docker does.
        report.status(f"Pulling from {ref.path}", ref.tag or ref.digest or "")
        client, repo, parsed = r.client, r.repo, r.parsed
        config_raw = client.read_blob(repo, parsed.config.digest)
        try:
            config = ImageConfig.from_bytes(config_raw)
        except errors.InvalidArgument as e:
            raise errors.InvalidArgument(
                f"malformed image config for {ref.familiar()}: {e}"
            ) from None
        image_id = parsed.config.digest
        if len(config.diff_ids) != len(parsed.layers):
            raise errors.InvalidArgument(
                f"malformed image {ref.familiar()}: {len(parsed.layers)} layers but "
                f"{len(config.diff_ids)} diff ids in its config"
            )
        chain = dg.chain_ids(config.diff_ids)
        held.enter_context(self.service.lease(chain))  # type: ignore[attr-defined]
        layers = []
        for i, desc in enumerate(parsed.layers):
            present = self.images.has_layer(chain[i])  # type: ignore[attr-defined]
            layers.append(_Layer(desc, config.diff_ids[i], chain[i], present))
        # Docker's rule: "up to date" when the name already meant this image.
        up_to_date = all(x.present for x in layers) and self._names_image(ref, image_id)
        # Up to date: Docker prints no layer lines at all.
        fetched = self._fetch_and_unpack(
            client, repo, parsed, layers, Reporter(None) if up_to_date else report
        )
        self.content.write_bytes(r.top.body, r.top.digest)  # type: ignore[attr-defined]
        if r.manifest is not r.top:
            self.content.write_bytes(r.manifest.body, r.manifest.digest)  # type: ignore[attr-defined]
        self.content.write_bytes(config_raw, image_id)  # type: ignore[attr-defined]
        self._register(ref, r, layers)
        report.status(f"Digest: {r.top.digest}")
        name = ref.familiar()
        if up_to_date:
            report.status(f"Status: Image is up to date for {name}")
        else:
            report.status(f"Status: Downloaded newer image for {name}")
        return PullResult(
            name,
            image_id,
            r.top.digest,
            not up_to_date,
            sum(1 for x in layers if not x.present),
            fetched,
        )

    def _names_image(self, ref: refs.Reference, image_id: str) -> bool:
        try:
            return self.images.resolve_id(str(ref)) == image_id  # type: ignore[attr-defined]
        except errors.BerthError:
            return False

    def _fetch_and_unpack(
        self,
        client: RegistryClient,
        repo: str,
        parsed: Manifest,
        layers: list[_Layer],
        report: Reporter,
    ) -> int:
        missing = [x for x in layers if not x.present]
        seen: set[str] = set()
        for x in layers:
            lid = short_id(x.desc.digest)
            if x.present:
                report.status("Already exists", lid)
            elif lid not in seen:
                report.status("Pulling fs layer", lid)
            seen.add(lid)
        if not missing:
            return 0
        cancel = threading.Event()
        total = 0
        diff_ids = [x.diff_id for x in layers]
        downloads: dict[str, Future] = {}
        with ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="pull") as pool:
            for n, x in enumerate(missing):
                if n >= self.max_concurrent and x.desc.digest not in downloads:
                    report.status("Waiting", short_id(x.desc.digest))
                if x.desc.digest not in downloads:
                    downloads[x.desc.digest] = pool.submit(
                        self._download, client, repo, x.desc, report, cancel
                    )
                x.future = downloads[x.desc.digest]
            try:
                i = 0
                while i < len(layers):
                    if layers[i].present:
                        i += 1
                        continue
                    # Wait for the lowest missing layer; take along the layers above
                    # it whose downloads already finished. The batch is applied on
                    # the layers below it (already unpacked: this loop goes up the
                    # chain), in parallel where the snapshotter allows, while later
                    # layers still download.
                    j = i
                    while j + 1 < len(layers) and _ready(layers[j + 1]):
                        j += 1
                    batch = [x for x in layers[i : j + 1] if not x.present]
                    for x in batch:
                        assert x.future is not None
                        total += x.future.result()
                        report.progress(
                            "Extracting", short_id(x.desc.digest), 0, x.desc.size, final=True
                        )
                    self.service.import_layers(parsed.layers[: j + 1], diff_ids[: j + 1])  # type: ignore[attr-defined]
                    for x in batch:
                        lid = short_id(x.desc.digest)
                        report.progress("Extracting", lid, x.desc.size, x.desc.size, final=True)
                        report.status("Pull complete", lid)
                    i = j + 1
            except BaseException:
                cancel.set()
                for f in downloads.values():
                    f.cancel()
                raise
        return total

    def _download(
        self,
        client: RegistryClient,
        repo: str,
        desc: Descriptor,
        report: Reporter,
        cancel: threading.Event,
    ) -> int:
        lid = short_id(desc.digest)
        if self.content.has(desc.digest):  # type: ignore[attr-defined]
            report.status("Download complete", lid)
            return 0
        writer = self.content.writer(desc.digest, desc.size)  # type: ignore[attr-defined]

        def progress(n: int) -> None:
            report.progress("Downloading", lid, n, desc.size)

        def write(chunk: memoryview) -> None:
            if cancel.is_set():
                raise errors.InternalError(f"download of {desc.digest} cancelled")
            writer.write(chunk)

        try:
            n = client.fetch_blob(
                repo, desc.digest, write, size=desc.size, progress=progress, verify=False
            )
            report.status("Verifying Checksum", lid)
            writer.commit()
        except errors.InvalidArgument as e:
            writer.abort()
            raise errors.InvalidArgument(f"failed to pull layer {desc.digest}: {e}") from None
        except BaseException:
            writer.abort()
            raise
        report.status("Download complete", lid)
        return n

    def _register(self, ref: refs.Reference, r: _Resolved, layers: list[_Layer]) -> None:
        extra = [d for d in r.blobs if d != r.manifest.digest]
        with self._db_lock:
            if self.sources is not None:
                host = r.client.endpoint.host
                for d in (*r.blobs, r.parsed.config.digest, *(x.desc.digest for x in layers)):
                    self.sources.add(d, host, r.repo)
            self.service.register_image(  # type: ignore[attr-defined]
                r.manifest.digest,
                tags=[str(ref)] if ref.tag and not ref.digest else [],
                repo_digests=[str(ref.repository().with_digest(r.top.digest))],
                extra_blobs=extra,
            )


def _ready(layer: _Layer) -> bool:
    """Can this layer join an unpack batch without waiting?"""
    return layer.present or (layer.future is not None and layer.future.done())


def _parse(fetched: FetchedManifest, ref: refs.Reference) -> object:
    if fetched.media_type not in INDEX_TYPES | MANIFEST_TYPES:
        raise errors.InvalidArgument(
            f"malformed manifest for {ref.familiar()}: unsupported media type {fetched.media_type!r}"
        )
    try:
        parsed = parse_manifest_or_index(fetched.body, fetched.media_type)
    except errors.InvalidArgument as e:
        raise errors.InvalidArgument(f"malformed manifest for {ref.familiar()}: {e}") from None
    if isinstance(parsed, Manifest):
        for d in (parsed.config, *parsed.layers):
            if not dg.is_digest(d.digest):
                raise errors.InvalidArgument(
                    f"malformed manifest for {ref.familiar()}: bad digest {d.digest!r}"
                )
    return parsed

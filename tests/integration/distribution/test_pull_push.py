"""Pull and push through the images service, against real registries.

Each test gets a fresh data root (content store, image store on SQLite,
overlay snapshots). Faults must leave no image behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth import errors
from berth.db import open_db
from berth.distribution.credentials import Credential
from berth.distribution.pull import Puller
from berth.distribution.push import Pusher
from berth.distribution.registry import RegistryOptions
from berth.distribution.remote import distribution_info, inspect_manifest, search
from berth.distribution.session import Session
from berth.distribution.sources import SourceStore
from berth.distribution.testing import (
    DroppingProxy,
    InProcessRegistry,
    Layout,
    Registry,
    layer_tar,
)

pytest.importorskip("berth.image.service_impl", reason="the images service is not implemented yet")

if os.geteuid() != 0:
    pytest.skip("pull unpacks into overlay snapshots: needs root", allow_module_level=True)


class Engine:
    """One data root: the images service plus a puller and pusher over it."""

    def __init__(self, root: Path, credential: Credential | None = None) -> None:
        from berth.image.service import ImageService

        root.mkdir(parents=True, exist_ok=True)
        self.db = open_db(root / "berth.db")
        self.svc = ImageService(root, self.db, driver="overlay2")
        self.sources = SourceStore(self.db)
        self.session = Session(RegistryOptions(), lambda domain: credential or Credential())
        self.messages: list[dict] = []

    def pull(self, ref: str, **kw):
        self.messages = []
        puller = Puller(self.svc, self.session, sources=self.sources)
        return puller.pull(ref, emit=self.messages.append, **kw)

    def push(self, ref: str, **kw):
        self.messages = []
        chunk = kw.pop("chunk_size", None)
        pusher = Pusher(self.svc, self.session, sources=self.sources, chunk_size=chunk)
        return pusher.push(ref, emit=self.messages.append, **kw)

    def statuses(self, layer: str | None = None) -> list[str]:
        return [
            m["status"]
            for m in self.messages
            if "status" in m and (layer is None or m.get("id") == layer)
        ]

    def no_image(self, ref: str) -> bool:
        try:
            self.svc.resolve(ref)
        except errors.NotFound:
            return True
        return False

    def close(self) -> None:
        self.session.close()
        self.db.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = Engine(tmp_path / "engine")
    try:
        yield e
    finally:
        e.close()


@pytest.fixture
def inproc(tmp_path: Path) -> Iterator[InProcessRegistry]:
    reg = InProcessRegistry(tmp_path / "inproc")
    try:
        yield reg
    finally:
        reg.close()


def short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def copy_in(skopeo: Callable, layout: Layout, host: str, name: str) -> None:
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", f"docker://{host}/{name}"
    )


def test_pull_from_registry(
    any_registry: Registry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    copy_in(skopeo, layout, any_registry.host, "team/bb:v1")
    ref = f"{any_registry.host}/team/bb:v1"
    [result] = engine.pull(ref)
    assert result.image_id == layout.config_digest and result.downloaded
    statuses = engine.statuses()
    assert statuses[0] == "Pulling from team/bb"
    for d in layout.layer_digests:
        assert engine.statuses(short(d))[0] == "Pulling fs layer"
        assert engine.statuses(short(d))[-1] == "Pull complete"
        assert "Downloading" in engine.statuses(short(d))
    assert statuses[-2:] == [
        f"Digest: {layout.manifest_digest}",
        f"Status: Downloaded newer image for {ref}",
    ]
    record = engine.svc.resolve(ref)
    assert record.id == layout.config_digest
    assert f"{any_registry.host}/team/bb@{layout.manifest_digest}" in record.repo_digests
    # Again: nothing to download.
    [again] = engine.pull(ref)
    assert not again.downloaded and again.bytes_fetched == 0
    assert engine.statuses() == [
        "Pulling from team/bb",
        f"Digest: {layout.manifest_digest}",
        f"Status: Image is up to date for {ref}",
    ]


def test_shared_layers_already_exist_and_only_new_bytes_move(
    inproc: InProcessRegistry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    base = layer_tar({"base/blob": os.urandom(400_000)}, busybox=True)
    first = oci_layout([base, layer_tar({"first": os.urandom(300_000)})])
    second = oci_layout([base, layer_tar({"second": os.urandom(200_000)})])
    copy_in(skopeo, first, inproc.host, "app/one:1")
    copy_in(skopeo, second, inproc.host, "app/two:1")
    engine.pull(f"{inproc.host}/app/one:1")
    before = inproc.stats.blob_bytes_sent
    [result] = engine.pull(f"{inproc.host}/app/two:1")
    assert engine.statuses(short(second.layer_digests[0])) == ["Already exists"]
    assert engine.statuses(short(second.layer_digests[1]))[-1] == "Pull complete"
    config_size = (second.path / "blobs" / "sha256" / second.config_digest[7:]).stat().st_size
    moved = inproc.stats.blob_bytes_sent - before
    assert moved == second.layer_sizes[1] + config_size
    assert result.bytes_fetched == second.layer_sizes[1]


def _index_layouts(oci_layout: Callable[..., Layout]) -> tuple[Layout, Layout]:
    amd = oci_layout([layer_tar({"arch": "amd64"})], arch="amd64")
    arm = oci_layout([layer_tar({"arch": "arm64"})], arch="arm64")
    return amd, arm


def test_index_platform_selection_and_inspect(
    berth_registry: Registry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    from berth.distribution.client import RegistryClient
    from berth.distribution.registry import endpoints

    amd, arm = _index_layouts(oci_layout)
    copy_in(skopeo, amd, berth_registry.host, "multi/img:amd")
    copy_in(skopeo, arm, berth_registry.host, "multi/img:arm")
    client = RegistryClient(endpoints(berth_registry.host, RegistryOptions())[0])
    entries = []
    for layout, arch in ((amd, "amd64"), (arm, "arm64")):
        body = (layout.path / "blobs" / "sha256" / layout.manifest_digest[7:]).read_bytes()
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": layout.manifest_digest,
                "size": len(body),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    client.put_manifest("multi/img", "latest", index, "application/vnd.oci.image.index.v1+json")
    ref = f"{berth_registry.host}/multi/img:latest"
    from berth.image.types import parse_platform

    [r] = engine.pull(ref, platform=parse_platform("linux/arm64"))
    assert r.image_id == arm.config_digest
    assert r.digest == "sha256:" + hashlib.sha256(index).hexdigest()
    [r] = engine.pull(ref, platform=parse_platform("linux/amd64"))
    assert r.image_id == amd.config_digest
    with pytest.raises(errors.NotFound, match="no matching manifest"):
        engine.pull(ref, platform=parse_platform("linux/s390x"))
    assert inspect_manifest(engine.session, ref) == json.loads(index)
    info = distribution_info(engine.session, ref)
    assert info["Descriptor"]["digest"] == r.digest
    assert [p["architecture"] for p in info["Platforms"]] == ["amd64", "arm64"]
    assert [x["name"] for x in search(engine.session, f"{berth_registry.host}/multi")] == [
        f"{berth_registry.host}/multi/img"
    ]


def test_pull_all_tags(
    berth_registry: Registry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    a = oci_layout([layer_tar({"a": "1"})])
    b = oci_layout([layer_tar({"b": "2"})])
    copy_in(skopeo, a, berth_registry.host, "all/t:a")
    copy_in(skopeo, b, berth_registry.host, "all/t:b")
    results = engine.pull(f"{berth_registry.host}/all/t", all_tags=True)
    assert [r.reference for r in results] == [
        f"{berth_registry.host}/all/t:a",
        f"{berth_registry.host}/all/t:b",
    ]
    assert engine.svc.resolve(f"{berth_registry.host}/all/t:b").id == b.config_digest


# ---- faults: each a clear error, and no image ------------------------------------------


def _registry_blob(reg_root: Path, digest: str) -> Path:
    return reg_root / "blobs" / "sha256" / digest[7:]


def test_digest_mismatch_leaves_no_image(
    inproc: InProcessRegistry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    copy_in(skopeo, layout, inproc.host, "bad/digest:1")
    blob = _registry_blob(inproc.root, layout.layer_digests[1])
    blob.write_bytes(b"\0" * blob.stat().st_size)
    ref = f"{inproc.host}/bad/digest:1"
    with pytest.raises(errors.InvalidArgument, match="digest mismatch"):
        engine.pull(ref)
    assert engine.no_image(ref)
    assert not engine.svc.content.has(layout.layer_digests[1])


def test_missing_blob_leaves_no_image(
    inproc: InProcessRegistry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    copy_in(skopeo, layout, inproc.host, "bad/missing:1")
    _registry_blob(inproc.root, layout.layer_digests[0]).unlink()
    ref = f"{inproc.host}/bad/missing:1"
    with pytest.raises(errors.NotFound, match="blob unknown"):
        engine.pull(ref)
    assert engine.no_image(ref)


def test_connection_dropped_mid_layer(
    inproc: InProcessRegistry,
    engine: Engine,
    oci_layout: Callable[..., Layout],
    skopeo: Callable,
    tmp_path: Path,
) -> None:
    layout = oci_layout([layer_tar({"big": os.urandom(1_500_000)})], compress=False)
    copy_in(skopeo, layout, inproc.host, "flaky/img:1")
    proxy = DroppingProxy(inproc.host, cut_after=500_000, drops=1)
    try:
        [r] = engine.pull(f"{proxy.host}/flaky/img:1")  # resumes with Range
        assert r.image_id == layout.config_digest and proxy.range_requests >= 1
    finally:
        proxy.close()
    proxy = DroppingProxy(inproc.host, cut_after=100_000, drops=-1)
    fresh = Engine(tmp_path / "fresh")
    try:
        for c in fresh.session.clients(proxy.host):
            c.retries = 1
        ref = f"{proxy.host}/flaky/img:1"
        with pytest.raises(errors.Unavailable, match="failed after"):
            fresh.pull(ref)
        assert fresh.no_image(ref)
    finally:
        fresh.close()
        proxy.close()


def test_wrong_credentials_unknown_tag_malformed_manifest(
    tmp_path: Path, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    import subprocess

    htpasswd = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-cbB", str(htpasswd), "u", "p"], check=True, capture_output=True)
    reg = InProcessRegistry(tmp_path / "authreg", htpasswd)
    wrong = Engine(tmp_path / "e1", Credential("u", "bad"))
    right = Engine(tmp_path / "e2", Credential("u", "p"))
    try:
        layout = oci_layout()
        skopeo(
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "u:p",
            f"oci:{layout.path}:latest",
            f"docker://{reg.host}/sec/img:1",
        )
        with pytest.raises(errors.Unauthorized, match="unauthorized"):
            wrong.pull(f"{reg.host}/sec/img:1")
        assert wrong.no_image(f"{reg.host}/sec/img:1")
        with pytest.raises(errors.NotFound, match="manifest unknown"):
            right.pull(f"{reg.host}/sec/img:nope")
        # A manifest the registry serves but that is not a valid image manifest.
        from berth.distribution.server.store import Store

        bad = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": 7}'
        Store(reg.root).put_manifest(
            "sec/img",
            "sha256:" + hashlib.sha256(bad).hexdigest(),
            bad,
            "application/vnd.oci.image.manifest.v1+json",
            [],
            "broken",
            None,
        )
        with pytest.raises(errors.InvalidArgument, match="malformed manifest"):
            right.pull(f"{reg.host}/sec/img:broken")
        assert right.no_image(f"{reg.host}/sec/img:broken")
        [ok] = right.pull(f"{reg.host}/sec/img:1")
        assert ok.image_id == layout.config_digest
    finally:
        wrong.close()
        right.close()
        reg.close()


# ---- push -------------------------------------------------------------------------


def test_push_then_pull_elsewhere(
    any_registry: Registry, engine: Engine, tmp_path: Path, skopeo: Callable
) -> None:
    image = engine.svc.make_busybox_image(tag=f"{any_registry.host}/team/busybox:1")
    ref = f"{any_registry.host}/team/busybox:1"
    [r] = engine.push(ref)
    assert r.layers_uploaded == len(image.chain_ids)
    assert (
        engine.statuses()[0] == f"The push refers to repository [{any_registry.host}/team/busybox]"
    )
    assert "Pushed" in engine.statuses()
    assert engine.statuses()[-1] == f"1: digest: {r.digest} size: {r.size}"
    assert {"Tag": "1", "Digest": r.digest, "Size": r.size} in [
        m.get("aux") for m in engine.messages
    ]
    assert f"{any_registry.host}/team/busybox@{r.digest}" in engine.svc.resolve(ref).repo_digests
    out = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)
    assert out["Digest"] == r.digest
    # Pushing again: every layer exists. To another repository: mounted.
    engine.push(ref)
    assert "Layer already exists" in engine.statuses() and "Pushed" not in engine.statuses()
    engine.svc.tag(ref, f"{any_registry.host}/other/copy:2")
    [m] = engine.push(f"{any_registry.host}/other/copy:2")
    assert m.layers_mounted == len(image.chain_ids)
    assert "Mounted from team/busybox" in engine.statuses()
    other = Engine(tmp_path / "other")
    try:
        [p] = other.pull(ref)
        assert p.image_id == image.id and p.digest == r.digest
    finally:
        other.close()


def test_chunked_push_and_all_tags(any_registry: Registry, engine: Engine) -> None:
    engine.svc.make_busybox_image(tag=f"{any_registry.host}/chunk/bb:a")
    engine.svc.tag(f"{any_registry.host}/chunk/bb:a", f"{any_registry.host}/chunk/bb:b")
    results = engine.push(f"{any_registry.host}/chunk/bb", all_tags=True, chunk_size=256 * 1024)
    assert [r.reference for r in results] == [
        f"{any_registry.host}/chunk/bb:a",
        f"{any_registry.host}/chunk/bb:b",
    ]
    assert results[0].digest == results[1].digest


def test_push_unknown_image(berth_registry: Registry, engine: Engine) -> None:
    with pytest.raises(errors.NotFound, match="does not exist locally"):
        engine.push(f"{berth_registry.host}/no/such:1")


def test_docker_hub_names_go_to_the_mirror(
    berth_registry: Registry, tmp_path: Path, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    copy_in(skopeo, layout, berth_registry.host, "library/mirrored:1")
    e = Engine(tmp_path / "mirror-engine")
    e.session = Session(RegistryOptions(mirrors=(f"http://{berth_registry.host}",)))
    try:
        [r] = e.pull("mirrored:1")  # docker.io/library/mirrored:1, served by the mirror
        assert r.image_id == layout.config_digest
        assert e.svc.resolve("mirrored:1").id == layout.config_digest
        assert e.statuses()[-1] == "Status: Downloaded newer image for mirrored:1"
    finally:
        e.close()


def test_layers_beyond_the_concurrency_limit_wait(
    berth_registry: Registry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout([layer_tar({f"f{i}": os.urandom(1000)}) for i in range(5)])
    copy_in(skopeo, layout, berth_registry.host, "five/layers:1")
    engine.pull(f"{berth_registry.host}/five/layers:1")
    for i, d in enumerate(layout.layer_digests):
        statuses = engine.statuses(short(d))
        assert ("Waiting" in statuses) == (i >= 3), (i, statuses)
        assert statuses[-1] == "Pull complete"


def test_pull_by_digest(
    berth_registry: Registry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    copy_in(skopeo, layout, berth_registry.host, "by/digest:1")
    ref = f"{berth_registry.host}/by/digest@{layout.manifest_digest}"
    [r] = engine.pull(ref)
    assert r.image_id == layout.config_digest and r.digest == layout.manifest_digest
    record = engine.svc.resolve(ref)
    assert record.repo_tags == [] and record.repo_digests == [ref]
    assert engine.statuses()[-1] == f"Status: Downloaded newer image for {ref}"
    # A digest the registry does not have.
    missing = f"{berth_registry.host}/by/digest@sha256:{'0' * 64}"
    with pytest.raises(errors.NotFound, match="manifest unknown"):
        engine.pull(missing)


def test_prune_racing_a_pull_leaves_a_complete_image(
    inproc: InProcessRegistry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    """An rmi and a prune -a run while a pull has stored blobs and found an existing
    layer but registered nothing yet: the pull's leases keep all of it."""
    base = layer_tar({"base": os.urandom(200_000)}, busybox=True)
    old = oci_layout([base])
    new = oci_layout([base, layer_tar({"a": os.urandom(300_000)}), layer_tar({"b": b"b"})])
    copy_in(skopeo, old, inproc.host, "race/old:1")
    copy_in(skopeo, new, inproc.host, "race/new:1")
    engine.pull(f"{inproc.host}/race/old:1")
    raced: list[object] = []

    def emit(message: dict) -> None:
        engine.messages.append(message)
        if message.get("status") == "Download complete" and not raced:
            engine.svc.delete(f"{inproc.host}/race/old:1")
            raced.append(engine.svc.prune(all=True))

    engine.messages = []
    puller = Puller(engine.svc, engine.session, sources=engine.sources)
    [result] = puller.pull(f"{inproc.host}/race/new:1", emit=emit)
    assert raced, "the prune never ran during the pull"
    assert engine.statuses(short(new.layer_digests[0])) == ["Already exists"]
    assert engine.no_image(f"{inproc.host}/race/old:1")
    record = engine.svc.resolve(f"{inproc.host}/race/new:1")
    assert record.id == result.image_id == new.config_digest
    for chain_id in record.chain_ids:
        assert engine.svc.snapshotter.exists(chain_id)
    for d in (new.manifest_digest, new.config_digest, *new.layer_digests[1:]):
        assert engine.svc.content.has(d), d
    # Collecting now (no pull running) keeps what the image references.
    engine.svc.prune(all=False)
    assert engine.svc.resolve(f"{inproc.host}/race/new:1").id == new.config_digest
    for d in new.layer_digests[1:]:
        assert engine.svc.content.has(d), d


def test_rmi_racing_a_push_leaves_a_complete_remote_image(
    berth_registry: Registry, engine: Engine, tmp_path: Path
) -> None:
    """The image is removed locally while its push runs: the push's lease keeps its
    blobs until the push is done, so the registry gets the whole image."""
    ref = f"{berth_registry.host}/race/pushed:1"
    image = engine.svc.make_busybox_image(tag=ref)
    raced: list[object] = []

    def emit(message: dict) -> None:
        if message.get("status") == "Preparing" and not raced:
            raced.append(engine.svc.delete(ref, force=True))

    [r] = Pusher(engine.svc, engine.session, sources=engine.sources).push(ref, emit=emit)
    assert raced and engine.no_image(ref)
    other = Engine(tmp_path / "other")
    try:
        [p] = other.pull(ref)
        assert p.image_id == image.id and p.digest == r.digest
    finally:
        other.close()


def test_lower_layers_unpack_while_an_upper_layer_downloads(
    inproc: InProcessRegistry, engine: Engine, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    """The top layer's blob is held back by a proxy until the bottom layer is
    reported unpacked ("Pull complete"): a pull that waited for every download
    before unpacking would not get there (the watcher gives up after 30 s)."""
    import threading
    import time

    layout = oci_layout(
        [layer_tar({}, busybox=True), layer_tar({"mid": "m"}), layer_tar({"top": "t"})]
    )
    copy_in(skopeo, layout, inproc.host, "early/unpack:1")
    release = threading.Event()
    top = layout.layer_digests[2]
    proxy = DroppingProxy(
        inproc.host, cut_after=1 << 40, drops=0, hold_until=(top.encode(), release)
    )
    messages: list[dict] = []
    early: list[bool] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not release.is_set():
            done = [m for m in list(messages) if m.get("status") == "Pull complete"]
            if any(m["id"] == short(layout.layer_digests[0]) for m in done):
                early.append(True)
                break
            time.sleep(0.01)
        release.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        puller = Puller(engine.svc, engine.session, sources=engine.sources)
        [r] = puller.pull(f"{proxy.host}/early/unpack:1", emit=messages.append)
    finally:
        release.set()
        watcher.join(10)
        proxy.close()
    assert r.image_id == layout.config_digest
    assert early == [True]
    order = [(m.get("id"), m.get("status")) for m in messages]
    assert order.index((short(layout.layer_digests[0]), "Pull complete")) < order.index(
        (short(top), "Download complete")
    )
    assert order[-1][1].startswith("Status: Downloaded newer image")

"""The images service on real mounts: sharing, deleting, hostile archives, round trips."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from berth.errors import Conflict, InvalidArgument
from berth.image.service import ImageService
from berth.image.store import ContainerUse
from berth.storage import mounting


def _names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        return tf.getnames()


def _layers(h, *specs: tuple[str, bytes]) -> bytes:
    return h.build(*[h.entry(name, data=data) for name, data in specs])


def test_shared_base_layer_is_stored_once(svc: ImageService, h, tmp_path: Path) -> None:
    base = _layers(h, ("base.bin", os.urandom(300_000)))
    a = _layers(h, ("a.txt", b"a" * 1000))
    b = _layers(h, ("b.txt", b"b" * 2000))
    svc.load(io.BytesIO(h.docker_archive([(["app-a:1"], [base, a])])))
    svc.load(io.BytesIO(h.docker_archive([(["app-b:1"], [base, b])])))
    # three layer directories, not four: the base chain is shared
    assert len(h.storage_dirs(svc)) == 3
    assert svc.disk_usage().layers_size == 300_000 + 1000 + 2000
    du = {i.repo_tags[0]: i for i in svc.disk_usage().images}
    assert du["app-a:1"].shared_size == 300_000 and du["app-a:1"].size == 301_000
    # deleting one image keeps the other intact
    out = svc.delete("app-a:1")
    assert {"Untagged": "app-a:1"} in [r.to_json() for r in out]
    assert len(h.storage_dirs(svc)) == 2
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-shared", "app-b:1", target)
    try:
        assert (target / "base.bin").stat().st_size == 300_000
        assert (target / "b.txt").read_bytes() == b"b" * 2000
        assert not (target / "a.txt").exists()
    finally:
        svc.remove_container_rootfs("c-shared", target)
    assert not mounting.is_mounted(target)
    svc.delete("app-b:1")
    assert h.storage_dirs(svc) == []
    assert list(svc.content.walk()) == []


def test_busybox_image_runs_and_container_layer(svc: ImageService, tmp_path: Path) -> None:
    img = svc.make_busybox_image()
    assert img.repo_tags == ["busybox:latest"]
    assert img.config.config["Cmd"] == ["sh"]
    assert any(e.startswith("PATH=") for e in img.config.config["Env"])
    assert len(svc.history("busybox")) == 2
    # the same host binary always gives the same image id
    assert svc.make_busybox_image(tag="busybox:again").id == img.id
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-bb", img.id, target)
    try:
        out = subprocess.run(
            ["chroot", str(target), "/bin/sh", "-c", "echo hi > /root/x; rm /etc/hosts; echo ok"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "ok"
        changes = {(c.kind.letter, c.path) for c in svc.container_changes("c-bb")}
        assert {("A", "/root/x"), ("D", "/etc/hosts")} <= changes
        assert svc.container_size("c-bb") == 3
        with pytest.raises(Conflict):
            svc.delete(img.id, in_use={img.id: [ContainerUse("c-bb", running=True)]}, force=True)
        new = svc.commit_container(
            "c-bb", img.id, config={"Cmd": ["cat", "/root/x"]}, tags=["snap:1"]
        )
        assert new.parent == img.id and len(new.chain_ids) == 2
        ids = [row["Id"] for row in svc.history("snap:1")]
        assert ids == [new.id, img.id, "<missing>"]  # commit, busybox's CMD, busybox's ADD
        buf = io.BytesIO()
        svc.export_container("c-bb", buf)
        names = _names(buf.getvalue())
        assert "root/x" in names and "etc/hosts" not in names and "bin/busybox" in names
    finally:
        svc.remove_container_rootfs("c-bb", target)
    # the committed image has the change, the base does not
    svc.prepare_container_rootfs("c-snap", "snap:1", target)
    try:
        assert (target / "root" / "x").read_text() == "hi\n"
        assert not (target / "etc" / "hosts").exists()
    finally:
        svc.remove_container_rootfs("c-snap", target)


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_save_load_round_trip(svc: ImageService, h, fmt: str) -> None:
    img = svc.make_busybox_image()
    svc.tag("busybox", "localhost:5000/bb:v1")
    buf = io.BytesIO()
    svc.save(["busybox:latest", "localhost:5000/bb:v1"], buf, fmt=fmt)
    names = set(_names(buf.getvalue()))
    assert {"oci-layout", "index.json"} <= names
    assert ("manifest.json" in names) == (fmt == "docker")
    svc.delete(img.id, force=True)
    assert svc.list_images() == []
    buf.seek(0)
    loaded = svc.load(buf)
    messages = [m for li in loaded for m in li.messages()]
    assert sorted(messages) == [
        "Loaded image: busybox:latest",
        "Loaded image: localhost:5000/bb:v1",
    ]
    assert svc.resolve("busybox").id == img.id


def test_import_with_changes(svc: ImageService, busybox_rootfs: Path, tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar.gz"
    subprocess.run(["tar", "-czf", str(tar), "-C", str(busybox_rootfs), "."], check=True)
    with open(tar, "rb") as f:
        img = svc.import_rootfs(
            f,
            changes=['CMD ["/bin/sh"]', "ENV A=1", "LABEL x=y"],
            tag="imported:1",
            message="hello",
        )
    assert img.config.config["Cmd"] == ["/bin/sh"] and img.config.config["Env"] == ["A=1"]
    assert img.labels == {"x": "y"}
    assert svc.history("imported:1")[0]["Comment"] == "hello"
    assert svc.inspect("imported:1")["RootFS"]["Layers"] == img.config.diff_ids
    assert svc.list_images(all=True)[0].repo_tags == ["imported:1"]


def test_prune_dangling_and_all(svc: ImageService, h) -> None:
    svc.load(io.BytesIO(h.docker_archive([([], [_layers(h, ("d", b"d" * 100))])])))
    svc.load(io.BytesIO(h.docker_archive([(["kept:1"], [_layers(h, ("k", b"k" * 50))])])))
    report = svc.prune()
    assert report.space_reclaimed == 100
    assert [i.repo_tags for i in svc.list_images()] == [["kept:1"]]
    report = svc.prune(all=True)
    assert report.space_reclaimed == 50
    assert svc.list_images() == [] and list(svc.content.walk()) == [] and h.storage_dirs(svc) == []


def _hostile_layers(h) -> dict[str, bytes]:
    e = h.entry
    return {
        "traversal": h.build(e("../../escape", data=b"x")),
        "absolute": h.build(e("/etc/escape", data=b"x")),
        "symlink-escape": h.build(e("l", "symlink", link="../../../../etc")),
        "hardlink-escape": h.build(e("h", "hardlink", link="../../../etc/passwd")),
        "symlink-midway": h.build(
            e("d", "dir"), e("d/a", data=b"1"), e("d", "symlink", link="/"), e("d/b", data=b"2")
        ),
    }


def test_hostile_archives_leave_nothing(svc: ImageService, h) -> None:
    good = _layers(h, ("ok", b"fine"))
    svc.load(io.BytesIO(h.docker_archive([(["good:1"], [good])])))
    before = h.store_state(svc)
    cases = {
        name: h.docker_archive([(["bad:1"], [good, layer])])
        for name, layer in _hostile_layers(h).items()
    }
    big = _layers(h, ("big", os.urandom(400_000)))
    import gzip

    truncated_layer = gzip.compress(big)[:100_000]
    cases["truncated-gzip"] = h.docker_archive(
        [(["bad:1"], [truncated_layer])], diff_ids=["sha256:" + hashlib.sha256(big).hexdigest()]
    )
    cases["diff-id-mismatch"] = h.docker_archive(
        [(["bad:1"], [good, big])], diff_ids=["sha256:" + "0" * 64] * 2
    )
    cases["truncated-archive"] = h.docker_archive([(["bad:1"], [big])])[:200_000]
    for name, archive in cases.items():
        with pytest.raises(InvalidArgument):
            svc.load(io.BytesIO(archive))
        assert h.store_state(svc) == before, name
    assert [i.repo_tags for i in svc.list_images()] == [["good:1"]]


def test_oci_blob_digest_mismatch_is_refused(svc: ImageService, h) -> None:
    svc.make_busybox_image()
    buf = io.BytesIO()
    svc.save(["busybox"], buf, fmt="oci")
    svc.delete("busybox")
    before = h.store_state(svc)
    # rewrite the archive with one layer byte flipped
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as src,
        tarfile.open(fileobj=out, mode="w") as dst,
    ):
        for m in src.getmembers():
            data = src.extractfile(m).read() if m.isreg() else None
            if m.isreg() and m.size > 100_000:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        svc.load(io.BytesIO(out.getvalue()))
    assert h.store_state(svc) == before


def test_many_layer_image(overlay_svc: ImageService, h, tmp_path: Path) -> None:
    layers = [_layers(h, (f"f{i:03d}", str(i).encode())) for i in range(128)]
    svc = overlay_svc
    svc.load(io.BytesIO(h.docker_archive([(["tall:1"], layers)])))
    assert len(svc.resolve("tall:1").chain_ids) == 128
    target = tmp_path / "rootfs"
    mounts = svc.prepare_container_rootfs("c-tall", "tall:1", target)
    try:
        assert mounts[0].cwd is not None  # relative short links were needed
        assert len(os.listdir(target)) == 128
        assert (target / "f127").read_text() == "127"
    finally:
        svc.remove_container_rootfs("c-tall", target)


def test_inspect_shape(svc: ImageService) -> None:
    img = svc.make_busybox_image()
    data = svc.inspect("busybox")
    assert data["Id"] == img.id and data["RepoTags"] == ["busybox:latest"]
    assert data["GraphDriver"]["Name"] == svc.snapshotter.name
    assert data["Config"]["Cmd"] == ["sh"]
    assert json.dumps(data)


def test_container_keeps_layers_of_a_force_removed_image(
    svc: ImageService, h, tmp_path: Path
) -> None:
    svc.load(io.BytesIO(h.docker_archive([(["gone:1"], [_layers(h, ("keep", b"me"))])])))
    target = tmp_path / "rootfs"
    image = svc.resolve("gone:1")
    svc.prepare_container_rootfs("c-orphan", image.id, target)
    try:
        svc.delete("gone:1", force=True, in_use={image.id: [ContainerUse("c-orphan")]})
        assert svc.list_images(all=True) == []
        assert len(h.storage_dirs(svc)) == 2  # the layer and the container's snapshot
        assert (target / "keep").read_bytes() == b"me"
    finally:
        svc.remove_container_rootfs("c-orphan", target)
    assert h.storage_dirs(svc) == []


def test_concurrent_loads_share_the_base(overlay_svc: ImageService, h) -> None:
    import threading

    base = _layers(h, ("base", os.urandom(2_000_000)))
    archives = [
        h.docker_archive([([f"par{i}:1"], [base, _layers(h, (f"own{i}", b"x"))])]) for i in range(4)
    ]
    errors: list[BaseException] = []

    def load(archive: bytes) -> None:
        try:
            overlay_svc.load(io.BytesIO(archive))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=load, args=(a,)) for a in archives]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(overlay_svc.list_images()) == 4
    assert len(h.storage_dirs(overlay_svc)) == 5  # one base + four own layers
    assert [
        x.name for x in (overlay_svc.snapshotter.root).iterdir() if x.name.startswith(".")
    ] == []


def _rewrite(archive: bytes, extra: list[tarfile.TarInfo], drop: set[str] = frozenset()) -> bytes:
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive)) as src,
        tarfile.open(fileobj=out, mode="w") as dst,
    ):
        for m in src.getmembers():
            if m.name not in drop:
                dst.addfile(m, src.extractfile(m) if m.isreg() else None)
        for info in extra:
            dst.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return out.getvalue()


def test_legacy_archive_with_symlinked_duplicate_layer_and_gzip(svc: ImageService, h) -> None:
    import gzip

    layer = _layers(h, ("same", b"s"))
    archive = h.docker_archive([(["dup:1"], [layer])])
    # docker save (before 25) wrote a repeated layer as a symlink to the first copy
    hexname = hashlib.sha256(layer).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        manifest = json.loads(tf.extractfile("manifest.json").read())
    link = tarfile.TarInfo("other/layer.tar")
    link.type, link.linkname = tarfile.SYMTYPE, f"../{hexname}/layer.tar"
    manifest[0]["Layers"] = ["other/layer.tar"]
    data = json.dumps(manifest).encode()
    mf = tarfile.TarInfo("manifest.json")
    mf.size = len(data)
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive)) as src,
        tarfile.open(fileobj=out, mode="w") as dst,
    ):
        for m in src.getmembers():
            if m.name != "manifest.json":
                dst.addfile(m, src.extractfile(m) if m.isreg() else None)
        dst.addfile(link)
        dst.addfile(mf, io.BytesIO(data))
    (loaded,) = svc.load(io.BytesIO(gzip.compress(out.getvalue())))
    assert loaded.names == ("dup:1",)


def test_hostile_archive_entries(svc: ImageService, h, tmp_path: Path) -> None:
    archive = h.docker_archive([(["x:1"], [_layers(h, ("f", b"1"))])])
    before = h.store_state(svc)
    evil = tarfile.TarInfo("../../../../evil-archive-entry")
    evil.size = 1
    escape = tarfile.TarInfo("lnk")
    escape.type, escape.linkname = tarfile.SYMTYPE, "../../etc/passwd"
    for extra in ([evil], [escape]):
        with pytest.raises(InvalidArgument):
            svc.load(io.BytesIO(_rewrite(archive, extra)))
        assert h.store_state(svc) == before
    assert not Path("/evil-archive-entry").exists()
    with pytest.raises(InvalidArgument, match=r"no manifest\.json or index\.json"):
        svc.load(io.BytesIO(_rewrite(archive, [], drop={"manifest.json"})))


def test_docker_archive_layout(svc: ImageService) -> None:
    img = svc.make_busybox_image()
    buf = io.BytesIO()
    svc.save(["busybox", img.id], buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = set(tf.getnames())
        manifest = json.loads(tf.extractfile("manifest.json").read())
        repositories = json.loads(tf.extractfile("repositories").read())
        index = json.loads(tf.extractfile("index.json").read())
    assert len(manifest) == 1 and manifest[0]["RepoTags"] == ["busybox:latest"]
    assert manifest[0]["Config"] == f"blobs/sha256/{img.id[7:]}"
    assert all(p in names for p in manifest[0]["Layers"])
    assert list(repositories) == ["busybox"] and "latest" in repositories["busybox"]
    entry = index["manifests"][0]
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    assert f"blobs/sha256/{entry['digest'][7:]}" in names


def test_image_without_layers(svc: ImageService, tmp_path: Path) -> None:
    img = svc.create_image(config={"Cmd": ["true"]}, created_by="scratch", tags=["empty:1"])
    assert img.chain_ids == [] and img.size == 0
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-empty", img.id, target)
    try:
        assert os.listdir(target) == []
    finally:
        svc.remove_container_rootfs("c-empty", target)


def test_prune_filters_and_index(svc: ImageService, h, data_root: Path) -> None:
    svc.load(io.BytesIO(h.docker_archive([(["l1:1"], [_layers(h, ("a", b"1"))])])))
    svc.load(io.BytesIO(h.docker_archive([(["l2:1"], [_layers(h, ("b", b"2"))])])))
    index = json.loads((data_root / "content" / "index.json").read_text())
    names = sorted(
        m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]
    )
    assert names == ["docker.io/library/l1:1", "docker.io/library/l2:1"]
    with pytest.raises(InvalidArgument, match="digest reference"):
        svc.tag("l1:1", "l1@sha256:" + "a" * 64)
    # the images were created in 2024 (their config says so)
    assert svc.prune(all=True, filters={"until": ["2000-01-01T00:00:00Z"]}).deleted == []
    with pytest.raises(InvalidArgument, match="invalid filter"):
        svc.prune(filters={"bogus": ["1"]})
    assert svc.prune(filters={"until": ["1h"]}).deleted == []  # not dangling
    report = svc.prune(all=True, filters={"until": ["1h"]})
    assert report.space_reclaimed == 2
    index = json.loads((data_root / "content" / "index.json").read_text())
    assert index["manifests"] == []


def test_load_oci_layout_with_a_multi_platform_index(svc: ImageService) -> None:
    from berth.image.types import host_platform

    img = svc.make_busybox_image()
    buf = io.BytesIO()
    svc.save(["busybox"], buf, fmt="oci")
    svc.delete("busybox")
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        for m in tf.getmembers():
            if m.isreg():
                files[m.name] = tf.extractfile(m).read()
    real = json.loads(files["index.json"])["manifests"][0]
    here = host_platform()
    other = {"architecture": "s390x" if here.architecture != "s390x" else "arm64", "os": "linux"}
    inner = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {**real, "digest": "sha256:" + "f" * 64, "annotations": {}, "platform": other},
                {**real, "annotations": {}, "platform": here.to_json()},
            ],
        }
    ).encode()
    inner_digest = "sha256:" + hashlib.sha256(inner).hexdigest()
    files[f"blobs/sha256/{inner_digest[7:]}"] = inner
    files["index.json"] = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    "digest": inner_digest,
                    "size": len(inner),
                    "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"},
                }
            ],
        }
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (loaded,) = svc.load(io.BytesIO(out.getvalue()))
    assert loaded.image_id == img.id and loaded.names == ("multi:1",)


def test_export_while_the_rootfs_is_mounted(svc: ImageService, tmp_path: Path) -> None:
    img = svc.make_busybox_image()
    target = tmp_path / "rootfs"
    svc.prepare_container_rootfs("c-live", img.id, target)
    try:
        (target / "root" / "live").write_text("running")
        for source in (None, target):
            buf = io.BytesIO()
            svc.export_container("c-live", buf, source=source)
            with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
                assert tf.extractfile("root/live").read() == b"running"
        assert mounting.is_mounted(target)
    finally:
        svc.remove_container_rootfs("c-live", target)
    assert mounting.mounts_under(tmp_path) == []

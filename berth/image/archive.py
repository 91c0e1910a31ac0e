"""`save` and `load`: images as tar archives, in Docker's format and the OCI layout.

berth writes what Docker 25 writes, which is both formats at once: an OCI
image layout (`oci-layout`, `index.json`, `blobs/sha256/...` with the config,
an OCI manifest and the *uncompressed* layer tars) plus Docker's
`manifest.json` (`Config`, `RepoTags`, `Layers` as paths into blobs/) and
`repositories`. With fmt="oci" only the layout is written.

Loading accepts any of them: a `manifest.json` (docker save of any version,
including the legacy `<id>/layer.tar` layout with symlinked duplicate layers)
wins; otherwise `index.json` is read as an OCI layout. The archive is
untrusted: it is unpacked into a private temporary directory with the same
name rules as layers (no absolute names, no `..`, symlinks resolved inside
the archive), every blob is verified against its digest when it enters the
content store, and every layer against its diff id when applied. A failure
leaves nothing behind: layers and blobs the failed image brought are
garbage-collected.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from berth.errors import InvalidArgument
from berth.image import digest as dg
from berth.image import reference as refs
from berth.image.types import (
    ANNOTATION_IMAGE_NAME,
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYOUT_VERSION,
    OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    host_platform,
    parse_manifest,
    parse_manifest_or_index,
)
from berth.storage.compression import READ_SIZE, decompressed
from berth.storage.layers import clean_name

if TYPE_CHECKING:
    from berth.image.service import LoadedImage
    from berth.image.service_impl import ServiceCore


# -- save -------------------------------------------------------------------------


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def _add_file(tf: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    with open(path, "rb") as f:
        tf.addfile(info, f)


def save_archive(core: ServiceCore, names: Sequence[str], out: BinaryIO, fmt: str) -> None:
    if fmt not in ("docker", "oci"):
        raise InvalidArgument(f"unknown archive format: {fmt} (docker or oci)")
    if not names:
        raise InvalidArgument("nothing to save: give at least one image")
    wanted: dict[str, list[str]] = {}
    for name in names:
        image = core.images.resolve(name)
        tags = wanted.setdefault(image.id, [])
        if not image.id.removeprefix("sha256:").startswith(name.removeprefix("sha256:")):
            ref = refs.parse(name)
            if not ref.digest:
                tag = ref.tagged_or_latest().familiar()
                if tag not in tags:
                    tags.append(tag)
    with (
        tempfile.TemporaryDirectory(dir=core.tmp, prefix="save-") as tmp,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf,  # type: ignore[call-overload]
    ):
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        written: set[str] = set()
        sizes: dict[str, int] = {}
        index_entries: list[Descriptor] = []
        docker_manifest = []
        repositories: dict[str, dict[str, str]] = {}
        for image_id, tags in wanted.items():
            image = core.images.get(image_id)
            stored = parse_manifest(core.content.read(image.manifest_digest))
            layer_paths = []
            layer_descs = []
            for desc, diff_id in zip(stored.layers, image.config.diff_ids, strict=True):
                path = f"blobs/sha256/{dg.hex_of(diff_id)}"
                if diff_id not in sizes:
                    plain = _uncompressed_layer(core, desc, diff_id, Path(tmp))
                    sizes[diff_id] = plain.stat().st_size
                    _add_file(tf, path, plain)
                    written.add(diff_id)
                layer_paths.append(path)
                layer_descs.append(Descriptor(OCI_LAYER, diff_id, sizes[diff_id]))
            config_path = f"blobs/sha256/{dg.hex_of(image.id)}"
            if image.id not in written:
                _add_bytes(tf, config_path, image.config_raw)
                written.add(image.id)
            manifest = Manifest(
                config=Descriptor(OCI_CONFIG, image.id, len(image.config_raw)),
                layers=tuple(layer_descs),
                media_type=OCI_MANIFEST,
            )
            raw = manifest.to_bytes()
            mdigest = dg.of_bytes(raw)
            if mdigest not in written:
                _add_bytes(tf, f"blobs/sha256/{dg.hex_of(mdigest)}", raw)
                written.add(mdigest)
            for tag in tags or [None]:
                annotations = {}
                if tag:
                    full = refs.parse(tag)
                    annotations = {
                        ANNOTATION_IMAGE_NAME: str(full),
                        ANNOTATION_REF_NAME: full.tag or "latest",
                    }
                    repositories.setdefault(full.familiar_name, {})[full.tag or "latest"] = (
                        dg.hex_of(image.config.diff_ids[-1]) if image.config.diff_ids else ""
                    )
                index_entries.append(
                    Descriptor(OCI_MANIFEST, mdigest, len(raw), annotations=annotations)
                )
            docker_manifest.append(
                {"Config": config_path, "RepoTags": tags or None, "Layers": layer_paths}
            )
        _add_bytes(
            tf, "oci-layout", json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}).encode()
        )
        _add_bytes(tf, "index.json", Index(tuple(index_entries), OCI_INDEX).to_bytes())
        if fmt == "docker":
            _add_bytes(tf, "manifest.json", json.dumps(docker_manifest).encode())
            _add_bytes(tf, "repositories", json.dumps(repositories).encode())


def _uncompressed_layer(core: ServiceCore, desc: Descriptor, diff_id: str, tmp: Path) -> Path:
    """The layer as a plain tar file: the blob itself, or a verified decompressed copy."""
    if desc.digest == diff_id:
        return core.content.path(desc.digest)
    out = tmp / dg.hex_of(diff_id)
    digester = dg.Digester()
    with core.content.open(desc.digest) as src, decompressed(src) as raw, open(out, "wb") as f:
        while chunk := raw.read(READ_SIZE):
            digester.update(chunk)
            f.write(chunk)
    if digester.digest() != diff_id:
        raise InvalidArgument(f"layer {desc.digest} does not decompress to {diff_id}")
    return out


# -- load -------------------------------------------------------------------------


def _unpack_archive(stream: BinaryIO, dest: Path) -> None:
    """Regular files and dirs only, names checked; symlinks become copies of their target."""
    links: list[tuple[str, str]] = []
    with decompressed(stream) as raw:
        try:
            with tarfile.open(fileobj=raw, mode="r|", bufsize=READ_SIZE) as tf:  # type: ignore[call-overload]
                for m in tf:
                    parts = clean_name(m.name, "archive entry")
                    if not parts:
                        continue
                    path = dest.joinpath(*parts)
                    if m.isdir():
                        path.mkdir(parents=True, exist_ok=True)
                    elif m.isreg():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        src = tf.extractfile(m)
                        fd = os.open(
                            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
                        )
                        with os.fdopen(fd, "wb") as f:
                            if src is not None:
                                shutil.copyfileobj(src, f, READ_SIZE)
                    elif m.issym() or m.islnk():
                        base = posixpath.dirname("/".join(parts)) if m.issym() else ""
                        target = posixpath.normpath(posixpath.join(base, m.linkname))
                        if target.startswith(("/", "..")):
                            raise InvalidArgument(
                                f"archive entry {m.name!r}: link leads outside the archive"
                            )
                        links.append(("/".join(parts), target))
        except tarfile.TarError as e:
            raise InvalidArgument(f"invalid image archive: {e}") from e
        except EOFError as e:
            raise InvalidArgument(f"image archive is truncated: {e}") from e
    for name, target in links:
        src = dest.joinpath(*target.split("/"))
        if not src.is_file() or src.is_symlink():
            raise InvalidArgument(f"archive entry {name!r}: link target {target!r} is not a file")
        dst = dest.joinpath(*name.split("/"))
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.link(src, dst)


def _archive_path(root: Path, name: str) -> Path:
    parts = clean_name(name, "archive path")
    path = root.joinpath(*parts)
    if not path.is_file():
        raise InvalidArgument(f"invalid image archive: {name} is missing")
    return path


def load_archive(core: ServiceCore, stream: BinaryIO) -> list[LoadedImage]:

    try:
        with core.lease(), tempfile.TemporaryDirectory(dir=core.tmp, prefix="load-") as tmp:
            root = Path(tmp)
            _unpack_archive(stream, root)
            if (root / "manifest.json").is_file():
                return _load_docker(core, root)
            if (root / "index.json").is_file():
                return _load_oci(core, root)
            raise InvalidArgument("invalid image archive: no manifest.json or index.json")
    except BaseException:
        # Whatever the failed image brought (layers, blobs) goes; loaded images stay.
        core.gc()
        raise


def _load_docker(core: ServiceCore, root: Path) -> list[LoadedImage]:
    from berth.image.service import LoadedImage

    try:
        entries = json.loads((root / "manifest.json").read_bytes())
    except ValueError as e:
        raise InvalidArgument(f"invalid manifest.json: {e}") from e
    if not isinstance(entries, list):
        raise InvalidArgument("invalid manifest.json: not a list")
    out = []
    for entry in entries:
        config_raw = _archive_path(root, entry["Config"]).read_bytes()
        config = ImageConfig.from_bytes(config_raw)
        layer_paths = entry.get("Layers") or []
        if len(layer_paths) != len(config.diff_ids):
            raise InvalidArgument(
                f"invalid image archive: {len(layer_paths)} layers for {len(config.diff_ids)} diff ids"
            )
        descs = [core._ingest_layer_file(_archive_path(root, p)) for p in layer_paths]
        config_info = core.content.write_bytes(config_raw)
        manifest = Manifest(
            config=Descriptor(OCI_CONFIG, config_info.digest, config_info.size),
            layers=tuple(descs),
            media_type=OCI_MANIFEST,
        )
        mdigest = core.content.write_bytes(manifest.to_bytes()).digest
        tags = [t for t in entry.get("RepoTags") or [] if t]
        record = core.register_image(mdigest, tags=tags)
        out.append(LoadedImage(record.id, tuple(refs.parse_tagged(t).familiar() for t in tags)))
    return out


def _ingest_from_layout(core: ServiceCore, root: Path, desc: Descriptor) -> None:
    path = root / "blobs" / "sha256" / dg.hex_of(desc.digest)
    if not path.is_file():
        raise InvalidArgument(f"invalid image archive: blob {desc.digest} is missing")
    with open(path, "rb") as f:
        core.content.ingest(f, expected=desc.digest, size=desc.size)


def _load_oci(core: ServiceCore, root: Path) -> list[LoadedImage]:
    from berth.image.service import LoadedImage

    index = parse_manifest_or_index((root / "index.json").read_bytes(), OCI_INDEX)
    if not isinstance(index, Index):
        raise InvalidArgument("invalid image archive: index.json is not an index")
    out = []
    for desc in index.manifests:
        extra = []
        target = desc
        _ingest_from_layout(core, root, target)
        while target.media_type in INDEX_TYPES:
            extra.append(target.digest)
            inner = parse_manifest_or_index(core.content.read(target.digest), target.media_type)
            assert isinstance(inner, Index)
            target = inner.select(host_platform())
            _ingest_from_layout(core, root, target)
        manifest = parse_manifest(core.content.read(target.digest), target.media_type)
        _ingest_from_layout(core, root, manifest.config)
        for layer in manifest.layers:
            _ingest_from_layout(core, root, layer)
        name = desc.annotations.get(ANNOTATION_IMAGE_NAME) or desc.annotations.get(
            ANNOTATION_REF_NAME, ""
        )
        tags = []
        if name:
            try:
                ref = refs.parse(name)
                if not ref.digest and (":" in name or "/" in name):
                    tags = [str(ref.tagged_or_latest())]
            except InvalidArgument:
                tags = []
        record = core.register_image(target.digest, tags=tags, extra_blobs=extra)
        out.append(LoadedImage(record.id, tuple(refs.familiar(t) for t in tags)))
    return out

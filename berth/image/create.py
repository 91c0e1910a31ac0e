"""New images from local material: a layer tar (build, commit, import) or none.

Each new image gets its config (the parent's, with the caller's container
defaults and one more history line) and an OCI manifest written to the
content store, then goes through `register_image` like a pulled one, so
there is one path into the image store.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from berth import timestamps
from berth.image.store import ImageRecord
from berth.image.types import (
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    History,
    ImageConfig,
    Manifest,
    Platform,
    host_platform,
    parse_manifest,
)
from berth.storage.compression import detect_compression

if TYPE_CHECKING:
    from berth.image.service_impl import ServiceCore


def now_iso() -> str:
    return timestamps.now()


def _json(value: object) -> str:
    return json.dumps(value)


class ImageCreator:
    def __init__(self, core: ServiceCore) -> None:
        self.core = core

    def write_manifest(self, config: ImageConfig, layers: Sequence[Descriptor]) -> str:
        """Store the config and an OCI manifest for it; returns the manifest digest."""
        config_info = self.core.content.write_bytes(config.to_bytes())
        manifest = Manifest(
            config=Descriptor(OCI_CONFIG, config_info.digest, config_info.size),
            layers=tuple(layers),
            media_type=OCI_MANIFEST,
        )
        return self.core.content.write_bytes(manifest.to_bytes()).digest

    def ingest_layer_file(self, path: Path) -> Descriptor:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(0)
            info = self.core.content.ingest(f)
        kind = detect_compression(head)
        media_type = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "": OCI_LAYER}[kind]
        return Descriptor(media_type, info.digest, info.size)

    def create_image(
        self,
        *,
        config: dict,
        parent: str,
        layer: BinaryIO | None,
        created_by: str,
        comment: str,
        author: str,
        tags: Sequence[str],
        history: Sequence[History] | None = None,
        created: str | None = None,
        base_config: ImageConfig | None = None,
    ) -> ImageRecord:
        with self.core.lease():
            parent_rec = self.core.images.resolve(parent) if parent else None
            if parent_rec is not None:
                cfg = ImageConfig.from_bytes(parent_rec.config_raw)
                layer_descs = list(
                    parse_manifest(self.core.content.read(parent_rec.manifest_digest)).layers
                )
            else:
                plat = host_platform()
                cfg = base_config or ImageConfig(
                    architecture=plat.architecture, os=plat.os, variant=plat.variant
                )
                layer_descs = []
            for key in ("container", "container_config", "docker_version"):
                cfg.extra.pop(key, None)
            cfg.config = dict(config)
            cfg.created = created or now_iso()
            if author:
                cfg.author = author
            new_diff = None
            if layer is not None:
                info = self.core.content.ingest(layer)
                desc = Descriptor(OCI_LAYER, info.digest, info.size)
                new_diff = info.digest
                layer_descs.append(desc)
                cfg.diff_ids = [*cfg.diff_ids, new_diff]
            if history is not None:
                cfg.history = [*cfg.history, *history]
            else:
                cfg.history = [
                    *cfg.history,
                    History(
                        created=cfg.created,
                        created_by=created_by,
                        author=author,
                        comment=comment,
                        empty_layer=layer is None,
                    ),
                ]
            manifest_digest = self.write_manifest(cfg, layer_descs)
            return self.core.register_image(
                manifest_digest, tags=tags, parent=parent_rec.id if parent_rec else ""
            )

    def make_base_image(self, base, *, tag: str, cmd: list[str]) -> ImageRecord:
        from berth.image.base import BaseLayer

        assert isinstance(base, BaseLayer)
        try:
            plat = host_platform()
            cfg = ImageConfig(architecture=plat.architecture, os=plat.os, variant=plat.variant)
            history = [
                History(created=base.created, created_by=base.created_by),
                History(
                    created=base.created,
                    created_by=f"/bin/sh -c #(nop)  CMD {_json(cmd)}",
                    empty_layer=True,
                ),
            ]
            with open(base.tar, "rb") as f:
                return self.create_image(
                    config={"Env": list(base.env), "Cmd": cmd},
                    parent="",
                    layer=f,
                    created_by="",
                    comment="",
                    author="",
                    tags=[tag],
                    history=history,
                    created=base.created,
                    base_config=cfg,
                )
        finally:
            for path in base.cleanup:
                shutil.rmtree(path, ignore_errors=True)

    def import_rootfs(
        self,
        stream: BinaryIO,
        *,
        changes: Sequence[str],
        tag: str | None,
        message: str,
        platform: Platform | None,
    ) -> ImageRecord:
        from berth.image.config_changes import apply_changes

        config = apply_changes({}, changes)
        plat = platform or host_platform()
        with self.core.lease():
            fd, name = tempfile.mkstemp(dir=self.core.tmp, prefix="import-")
            try:
                with os.fdopen(fd, "wb") as f:
                    shutil.copyfileobj(stream, f, 1 << 20)
                desc = self.ingest_layer_file(Path(name))
            finally:
                os.unlink(name)
            records = self.core.import_layers([desc])
            created = now_iso()
            cfg = ImageConfig(
                architecture=plat.architecture,
                os=plat.os,
                variant=plat.variant,
                created=created,
                config=config,
                diff_ids=[records[0].diff_id],
                history=[
                    History(created=created, created_by="", comment=message or "Imported from -")
                ],
            )
            manifest_digest = self.write_manifest(cfg, [desc])
            return self.core.register_image(manifest_digest, tags=[tag] if tag else [])

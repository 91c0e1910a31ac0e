"""Image types of the OCI image spec and Docker's schema 2, and platform selection.

Both families share one shape: a *descriptor* (media type, digest, size) points
at a blob; a *manifest* lists a config descriptor and layer descriptors; an
*index* (Docker: manifest list) lists manifests with their platforms; the
*config* holds the runtime defaults (Cmd, Env, ...), the layers' uncompressed
digests (`rootfs.diff_ids`) and the history. Docker's media types and the OCI
ones are interchangeable here; the parser keeps the media type it saw so that
a manifest can be pushed back byte for byte (the bytes, not these objects, are
what digests are computed over: never re-serialise a stored manifest).
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from berth.errors import InvalidArgument, NotFound

# Media types.
OCI_LAYOUT_VERSION = "1.0.0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_NONDIST,
        OCI_LAYER_NONDIST_GZIP,
        DOCKER_LAYER,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN,
    }
)

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"


@dataclass(frozen=True, slots=True)
class Platform:
    """os/architecture[/variant], as in an index entry or a config."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""
    os_version: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    @staticmethod
    def from_json(data: dict[str, Any] | None) -> Platform:
        data = data or {}
        return Platform(
            os=data.get("os", ""),
            architecture=data.get("architecture", ""),
            variant=data.get("variant", "") or "",
            os_version=data.get("os.version", "") or "",
        )


_ARCH_ALIASES = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
}


def parse_platform(text: str) -> Platform:
    """`linux/amd64`, `linux/arm/v7`, `arm64` (os defaults to linux) -> normalised Platform."""
    parts = [p for p in text.strip().split("/")]
    if not text or any(not p for p in parts) or len(parts) > 3:
        raise InvalidArgument(f"invalid platform: {text!r}")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    os_name = parts[0].lower()
    arch = parts[1].lower()
    variant = parts[2].lower() if len(parts) == 3 else ""
    return normalize_platform(Platform(os_name, arch, variant))


def normalize_platform(p: Platform) -> Platform:
    """Containerd's normalisation: x86_64 -> amd64, aarch64 -> arm64 (variant v8 dropped)."""
    arch, variant = _ARCH_ALIASES.get(p.architecture, (p.architecture, ""))
    variant = p.variant or variant
    if arch == "arm64" and variant == "v8":
        variant = ""
    if arch == "arm" and not variant:
        variant = "v7"
    return Platform(p.os or "linux", arch, variant, p.os_version)


def host_platform() -> Platform:
    """The platform this machine runs natively."""
    return normalize_platform(Platform("linux", _platform.machine().lower(), ""))


def platform_matches(want: Platform, have: Platform) -> bool:
    """Does an index entry for `have` run on `want`? (variant optional when not asked for)."""
    w, h = normalize_platform(want), normalize_platform(have)
    if w.os != h.os or w.architecture != h.architecture:
        return False
    return not w.variant or not h.variant or w.variant == h.variant


@dataclass(frozen=True, slots=True)
class Descriptor:
    """A pointer to a blob: what it is, its digest and size."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Descriptor:
        try:
            return Descriptor(
                media_type=data.get("mediaType", ""),
                digest=data["digest"],
                size=int(data["size"]),
                urls=tuple(data.get("urls") or ()),
                annotations=dict(data.get("annotations") or {}),
                platform=Platform.from_json(data["platform"]) if data.get("platform") else None,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgument(f"invalid descriptor: {e}") from e


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [d.to_json() for d in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    manifests: tuple[Descriptor, ...]
    media_type: str = OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [d.to_json() for d in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    def select(self, want: Platform) -> Descriptor:
        """The first manifest for `want`; NotFound when none matches."""
        for desc in self.manifests:
            fits = desc.platform is None or platform_matches(want, desc.platform)
            if fits and (desc.media_type in INDEX_TYPES | MANIFEST_TYPES or not desc.media_type):
                return desc

        have = ", ".join(str(d.platform) for d in self.manifests if d.platform)
        raise NotFound(f"no matching manifest for {want} in the manifest list entries ({have})")


@dataclass(frozen=True, slots=True)
class History:
    """One line of `docker history`: what created a layer (or an empty step)."""

    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> History:
        return History(
            created=data.get("created", "") or "",
            created_by=data.get("created_by", "") or "",
            author=data.get("author", "") or "",
            comment=data.get("comment", "") or "",
            empty_layer=bool(data.get("empty_layer", False)),
        )


@dataclass(slots=True)
class ImageConfig:
    """An image config. `config` holds the container defaults with Docker's keys
    (Cmd, Entrypoint, Env, WorkingDir, User, Labels, ExposedPorts, Volumes,
    StopSignal, Healthcheck, OnBuild, Shell, ArgsEscaped); `extra` keeps every
    other top-level key so that nothing is lost when a config is rewritten."""

    architecture: str = "amd64"
    os: str = "linux"
    variant: str = ""
    created: str = ""
    author: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    diff_ids: list[str] = field(default_factory=list)
    history: list[History] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("Labels") or {})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["architecture"] = self.architecture
        out["os"] = self.os
        if self.variant:
            out["variant"] = self.variant
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        out["config"] = self.config
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        out["history"] = [h.to_json() for h in self.history]
        return out

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @staticmethod
    def from_json(data: dict[str, Any]) -> ImageConfig:
        if not isinstance(data, dict):
            raise InvalidArgument("invalid image config: not an object")
        rootfs = data.get("rootfs") or {}
        known = {
            "architecture",
            "os",
            "variant",
            "created",
            "author",
            "config",
            "rootfs",
            "history",
        }
        return ImageConfig(
            architecture=data.get("architecture", "") or "",
            os=data.get("os", "") or "",
            variant=data.get("variant", "") or "",
            created=data.get("created", "") or "",
            author=data.get("author", "") or "",
            config=dict(data.get("config") or {}),
            diff_ids=list(rootfs.get("diff_ids") or []),
            history=[History.from_json(h) for h in data.get("history") or []],
            extra={k: v for k, v in data.items() if k not in known},
        )

    @staticmethod
    def from_bytes(raw: bytes) -> ImageConfig:
        return ImageConfig.from_json(_loads(raw, "image config"))


def canonical_json(data: Any) -> bytes:
    """Compact JSON with sorted keys: how berth writes the manifests and configs it makes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _loads(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidArgument(f"invalid {what}: {e}") from e


def parse_manifest_or_index(raw: bytes, media_type: str = "") -> Manifest | Index:
    """Parse a manifest or an index; the media type comes from the body or the caller."""
    data = _loads(raw, "manifest")
    if not isinstance(data, dict):
        raise InvalidArgument("invalid manifest: not an object")
    kind = data.get("mediaType") or media_type
    if not kind:
        kind = OCI_INDEX if "manifests" in data else OCI_MANIFEST
    if kind in INDEX_TYPES:
        return Index(
            manifests=tuple(Descriptor.from_json(d) for d in data.get("manifests") or []),
            media_type=kind,
            annotations=dict(data.get("annotations") or {}),
        )
    if kind in MANIFEST_TYPES:
        if "config" not in data:
            raise InvalidArgument("invalid manifest: no config")
        return Manifest(
            config=Descriptor.from_json(data["config"]),
            layers=tuple(Descriptor.from_json(d) for d in data.get("layers") or []),
            media_type=kind,
            annotations=dict(data.get("annotations") or {}),
        )
    raise InvalidArgument(f"unsupported manifest media type: {kind}")


def parse_manifest(raw: bytes, media_type: str = "") -> Manifest:
    parsed = parse_manifest_or_index(raw, media_type)
    if not isinstance(parsed, Manifest):
        raise InvalidArgument("expected an image manifest, got an index")
    return parsed


def layer_compression(media_type: str) -> str:
    """ "gzip", "zstd" or "" (plain tar) for a layer media type."""
    if media_type.endswith("gzip"):
        return "gzip"
    if media_type.endswith("zstd"):
        return "zstd"
    return ""

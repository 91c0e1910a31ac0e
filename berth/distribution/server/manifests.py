"""What the registry checks in a pushed manifest before storing it.

A manifest is JSON of a known media type. For an image manifest its config and
layers must already be blobs of the registry (MANIFEST_BLOB_UNKNOWN otherwise),
for an index its children must be manifests of the same repository, so that a
pull of anything the registry accepted can complete. Layers with `urls`
(Docker's foreign layers) are not required to be present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from berth.distribution.server.errors import RegistryError
from berth.distribution.server.names import valid_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
IMAGE_TYPES = {OCI_MANIFEST, DOCKER_MANIFEST}
INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}


@dataclass(slots=True)
class CheckedManifest:
    media_type: str
    blobs: list[str] = field(default_factory=list)  # must exist as blobs
    children: list[str] = field(default_factory=list)  # must exist as manifests in the repo
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


def check_manifest(body: bytes, content_type: str | None) -> CheckedManifest:
    """Parse and validate a manifest body; raise MANIFEST_INVALID with the reason."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise RegistryError("MANIFEST_INVALID", f"manifest is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RegistryError("MANIFEST_INVALID", "manifest is not a JSON object")
    media_type = doc.get("mediaType") or _bare(content_type)
    declared = _bare(content_type)
    # The spec: if both are present they must agree (plain JSON is tolerated).
    if doc.get("mediaType") and declared and declared not in (media_type, "application/json"):
        raise RegistryError(
            "MANIFEST_INVALID",
            f"mediaType {media_type} does not match Content-Type {content_type}",
        )
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if doc.get("schemaVersion") != 2:
        raise RegistryError(
            "MANIFEST_INVALID", f"unsupported schemaVersion {doc.get('schemaVersion')!r}"
        )
    checked = CheckedManifest(media_type=media_type)
    checked.annotations = (
        doc.get("annotations") if isinstance(doc.get("annotations"), dict) else None
    )
    checked.artifact_type = doc.get("artifactType")
    subject = doc.get("subject")
    if subject is not None:
        checked.subject = _descriptor_digest(subject, "subject")
    if media_type in IMAGE_TYPES:
        config = doc.get("config")
        layers = doc.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise RegistryError(
                "MANIFEST_INVALID", "image manifest needs a config and a layers list"
            )
        checked.blobs.append(_descriptor_digest(config, "config"))
        if checked.artifact_type is None:
            checked.artifact_type = config.get("mediaType")
        for layer in layers:
            digest = _descriptor_digest(layer, "layer")
            if not layer.get("urls"):
                checked.blobs.append(digest)
    elif media_type in INDEX_TYPES:
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise RegistryError("MANIFEST_INVALID", "index needs a manifests list")
        checked.children = [_descriptor_digest(m, "manifest") for m in manifests]
    else:
        raise RegistryError("MANIFEST_INVALID", f"unsupported manifest media type {media_type!r}")
    return checked


def _descriptor_digest(desc: object, what: str) -> str:
    if not isinstance(desc, dict):
        raise RegistryError("MANIFEST_INVALID", f"{what} descriptor is not an object")
    digest = desc.get("digest")
    if not isinstance(digest, str) or not valid_digest(digest):
        raise RegistryError(
            "MANIFEST_INVALID", f"{what} descriptor has an invalid digest {digest!r}"
        )
    if not isinstance(desc.get("size"), int) or desc["size"] < 0:
        raise RegistryError("MANIFEST_INVALID", f"{what} descriptor {digest} has no valid size")
    return digest


def _bare(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip()

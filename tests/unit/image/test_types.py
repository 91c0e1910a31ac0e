"""Manifests, indexes, configs and platform selection."""

from __future__ import annotations

import json

import pytest

from berth.errors import InvalidArgument, NotFound
from berth.image import digest as dg
from berth.image import types as t

DIG = "sha256:" + "b" * 64


def _desc(media_type: str, platform: dict | None = None) -> dict:
    d = {"mediaType": media_type, "digest": DIG, "size": 10}
    if platform:
        d["platform"] = platform
    return d


def test_docker_manifest_parses_and_keeps_media_type() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": t.DOCKER_MANIFEST,
            "config": _desc(t.DOCKER_CONFIG),
            "layers": [_desc(t.DOCKER_LAYER_GZIP), _desc(t.DOCKER_LAYER)],
        }
    ).encode()
    m = t.parse_manifest(raw)
    assert m.media_type == t.DOCKER_MANIFEST
    assert [x.media_type for x in m.layers] == [t.DOCKER_LAYER_GZIP, t.DOCKER_LAYER]
    assert t.layer_compression(m.layers[0].media_type) == "gzip"
    assert t.layer_compression(t.OCI_LAYER_ZSTD) == "zstd"
    assert t.layer_compression(t.OCI_LAYER) == ""


def test_oci_manifest_without_media_type_field() -> None:
    raw = json.dumps({"schemaVersion": 2, "config": _desc(t.OCI_CONFIG), "layers": []}).encode()
    assert t.parse_manifest(raw).media_type == t.OCI_MANIFEST


def test_index_selects_platform() -> None:
    raw = json.dumps(
        {
            "mediaType": t.DOCKER_MANIFEST_LIST,
            "manifests": [
                _desc(t.DOCKER_MANIFEST, {"os": "linux", "architecture": "arm", "variant": "v7"}),
                _desc(t.DOCKER_MANIFEST, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                _desc(t.DOCKER_MANIFEST, {"os": "linux", "architecture": "amd64"}),
            ],
        }
    ).encode()
    index = t.parse_manifest_or_index(raw)
    assert isinstance(index, t.Index)
    assert index.select(t.parse_platform("linux/amd64")).platform.architecture == "amd64"
    assert index.select(t.parse_platform("linux/aarch64")).platform.architecture == "arm64"
    assert index.select(t.parse_platform("arm")).platform.variant == "v7"
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        index.select(t.parse_platform("linux/s390x"))


def test_platform_parsing() -> None:
    assert str(t.parse_platform("linux/x86_64")) == "linux/amd64"
    assert str(t.parse_platform("linux/arm64/v8")) == "linux/arm64"
    with pytest.raises(InvalidArgument):
        t.parse_platform("linux//")
    assert t.host_platform().os == "linux"


def test_config_round_trip_keeps_unknown_keys() -> None:
    data = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": [DIG]},
        "history": [{"created_by": "x", "empty_layer": True}],
        "container_config": {"Hostname": "h"},
    }
    cfg = t.ImageConfig.from_json(data)
    assert cfg.labels == {"a": "b"}
    assert cfg.history[0].empty_layer
    again = json.loads(cfg.to_bytes())
    assert again["container_config"] == {"Hostname": "h"}
    assert again["rootfs"]["diff_ids"] == [DIG]


def test_bad_json_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        t.parse_manifest(b"{not json")
    with pytest.raises(InvalidArgument, match="unsupported manifest media type"):
        t.parse_manifest_or_index(b'{"mediaType": "text/plain"}')


def test_chain_ids_follow_the_oci_formula() -> None:
    a, b = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    chain = dg.chain_ids([a, b])
    assert chain[0] == a
    assert chain[1] == dg.of_bytes(f"{a} {b}".encode())
    with pytest.raises(InvalidArgument):
        dg.chain_ids(["nope"])

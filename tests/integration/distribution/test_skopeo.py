"""A real client, Debian's skopeo, copies images into and out of berth's registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from berth.distribution.testing import Layout, Registry, layer_tar


def test_skopeo_copies_in_and_out(
    berth_registry: Registry, oci_layout: Callable[..., Layout], skopeo: Callable, tmp_path: Path
) -> None:
    layout = oci_layout()
    dest = f"docker://{berth_registry.host}/team/busybox:1.0"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", dest)
    inspect = json.loads(skopeo("inspect", "--tls-verify=false", dest).stdout)
    assert inspect["Digest"] == layout.manifest_digest
    assert inspect["Layers"] == layout.layer_digests
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", dest).stdout)
    assert raw["config"]["digest"] == layout.config_digest
    tags = json.loads(
        skopeo(
            "list-tags", "--tls-verify=false", f"docker://{berth_registry.host}/team/busybox"
        ).stdout
    )
    assert tags["Tags"] == ["1.0"]
    out = tmp_path / "out"
    skopeo("copy", "--src-tls-verify=false", dest, f"oci:{out}:copied")
    for d in [*layout.layer_digests, layout.config_digest, layout.manifest_digest]:
        blob = out / "blobs" / "sha256" / d[7:]
        assert blob.read_bytes() == (layout.path / "blobs" / "sha256" / d[7:]).read_bytes()
    # Delete through the API, as skopeo does it (by digest).
    skopeo("delete", "--tls-verify=false", dest)
    assert skopeo("inspect", "--tls-verify=false", dest, check=False).returncode != 0


def test_skopeo_copies_between_berth_and_docker_registry(
    berth_registry: Registry,
    docker_registry: Registry,
    oci_layout: Callable[..., Layout],
    skopeo: Callable,
) -> None:
    layout = oci_layout([layer_tar({}, busybox=True), layer_tar({"a": "1"}), layer_tar({"b": "2"})])
    src = f"docker://{docker_registry.host}/x/y:z"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", src)
    dst = f"docker://{berth_registry.host}/x/y:z"
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", src, dst)
    assert (
        json.loads(skopeo("inspect", "--tls-verify=false", dst).stdout)["Digest"]
        == layout.manifest_digest
    )

"""A real Docker engine pushes to and pulls from berth's registry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from berth import errors
from berth.distribution.testing import Layout, PrivateDockerd, Registry, start_dockerd

pytestmark = pytest.mark.docker


@pytest.fixture
def dockerd(berth_registry: Registry) -> Iterator[PrivateDockerd]:
    try:
        d = start_dockerd(berth_registry.host)
    except errors.Unavailable as e:
        pytest.skip(f"no private dockerd can run here: {e}")
    try:
        yield d
    finally:
        d.close()


def test_docker_pulls_and_pushes(
    berth_registry: Registry,
    dockerd: PrivateDockerd,
    oci_layout: Callable[..., Layout],
    skopeo: Callable,
) -> None:
    layout = oci_layout()
    src = f"{berth_registry.host}/seed/busybox:1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", f"docker://{src}")
    out = dockerd.docker("pull", src).stdout
    assert f"Digest: {layout.manifest_digest}" in out
    image_id = dockerd.docker("image", "inspect", "--format", "{{.Id}}", src).stdout.strip()
    assert image_id == layout.config_digest
    # docker pushes (chunked PATCH, cross-repo mount) to another repository.
    dst = f"{berth_registry.host}/pushed/by-docker:2"
    dockerd.docker("tag", src, dst)
    out = dockerd.docker("push", dst).stdout
    assert "2: digest: sha256:" in out
    pushed = out.split("2: digest: ", 1)[1].split()[0]
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dst}").stdout)
    assert raw["config"]["digest"] == layout.config_digest
    inspect = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{dst}").stdout)
    assert inspect["Digest"] == pushed
    # And pulls it back after removing it locally.
    dockerd.docker("rmi", dst, src)
    dockerd.docker("pull", dst)
    assert dockerd.docker("image", "inspect", "--format", "{{.Id}}", dst).stdout.strip() == image_id

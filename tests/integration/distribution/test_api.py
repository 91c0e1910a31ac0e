"""The Engine API endpoints of distribution, through a private berthd, driven by docker-py."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.distribution.testing import Layout, Registry, start_berth_registry, stop
from tests.support.berthd import private_berthd

docker = pytest.importorskip("docker")

if os.geteuid() != 0:
    pytest.skip("berthd needs root", allow_module_level=True)


@contextlib.contextmanager
def running_berthd(*flags: str) -> Iterator[str]:
    """A private berthd (shared harness, extra `flags`); yields its unix:// address.
    A berthd that does not start fails the test."""
    with private_berthd("bdapi-", busybox=False, args=flags) as d:
        yield d.host


@pytest.fixture
def berthd() -> Iterator[str]:
    with running_berthd() as address:
        yield address


def test_pull_push_inspect_search_through_the_api(
    berthd: str, berth_registry: Registry, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    layout = oci_layout()
    host = berth_registry.host
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", f"docker://{host}/api/img:1"
    )
    api = docker.APIClient(base_url=berthd, version="1.43")
    messages = list(api.pull(f"{host}/api/img", tag="1", stream=True, decode=True))
    statuses = [m.get("status", "") for m in messages]
    assert "Pull complete" in statuses
    assert statuses[-1] == f"Status: Downloaded newer image for {host}/api/img:1"
    image = api.inspect_image(f"{host}/api/img:1")
    assert image["Id"] == layout.config_digest
    assert f"{host}/api/img@{layout.manifest_digest}" in image["RepoDigests"]
    # Unknown tag: an HTTP error with Docker's words.
    with pytest.raises(docker.errors.NotFound, match="manifest unknown"):
        api.pull(f"{host}/api/img", tag="nope")
    # Push under another name: progress stream with the digest in aux.
    api.tag(f"{host}/api/img:1", f"{host}/api/copy", "2")
    pushed = list(api.push(f"{host}/api/copy", tag="2", stream=True, decode=True))
    aux = [m["aux"] for m in pushed if "aux" in m]
    assert aux == [{"Tag": "2", "Digest": layout.manifest_digest, "Size": aux[0]["Size"]}]
    assert not [m for m in pushed if "error" in m]
    dist = api.inspect_distribution(f"{host}/api/copy:2")
    assert dist["Descriptor"]["digest"] == layout.manifest_digest
    assert dist["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    names = [r["name"] for r in api.search(f"{host}/api")]
    assert names == [f"{host}/api/copy", f"{host}/api/img"]
    # No tag: every tag of the repository (`pull -a`).
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", f"docker://{host}/api/img:3"
    )
    every = list(api.pull(f"{host}/api/img", all_tags=True, stream=True, decode=True))
    done = [m["status"] for m in every if m.get("status", "").startswith("Status:")]
    assert done == [f"Status: Image is up to date for {host}/api/img:1",
                    f"Status: Downloaded newer image for {host}/api/img:3"]  # fmt: skip
    assert api.inspect_image(f"{host}/api/img:3")["Id"] == layout.config_digest


def test_login_and_credentials_through_the_api(
    berthd: str, tmp_path: Path, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-cbB", str(htpasswd), "eve", "pw"], check=True, capture_output=True
    )
    reg = start_berth_registry(tmp_path / "authreg", "--htpasswd", str(htpasswd))
    try:
        layout = oci_layout()
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "eve:pw",
               f"oci:{layout.path}:latest", f"docker://{reg.host}/sec/img:1")  # fmt: skip
        api = docker.APIClient(base_url=berthd, version="1.43")
        assert api.login("eve", "pw", registry=reg.host, reauth=True)["Status"] == "Login Succeeded"
        with pytest.raises(docker.errors.APIError) as e:
            api.login("eve", "wrong", registry=reg.host, reauth=True)
        assert e.value.status_code == 401
        with pytest.raises(docker.errors.APIError, match="unauthorized"):
            api.pull(
                f"{reg.host}/sec/img", tag="1", auth_config={"username": "eve", "password": "bad"}
            )
        out = list(api.pull(f"{reg.host}/sec/img", tag="1", stream=True, decode=True,
                            auth_config={"username": "eve", "password": "pw"}))  # fmt: skip
        assert out[-1]["status"].startswith("Status: Downloaded newer image")
    finally:
        stop(reg.proc)


def test_real_docker_cli_through_berthd(
    berthd: str, berth_registry: Registry, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    import shutil

    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    layout = oci_layout()
    host = berth_registry.host
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest", f"docker://{host}/cli/img:1"
    )

    def docker_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", "-H", berthd, *args], capture_output=True, text=True, timeout=120
        )

    out = docker_cli("pull", f"{host}/cli/img:1")
    assert out.returncode == 0, out.stderr
    assert "Pull complete" in out.stdout and f"Digest: {layout.manifest_digest}" in out.stdout
    out = docker_cli("pull", f"{host}/cli/img:missing")
    assert out.returncode != 0 and "manifest unknown" in out.stderr
    assert docker_cli("tag", f"{host}/cli/img:1", f"{host}/cli/other:2").returncode == 0
    out = docker_cli("push", f"{host}/cli/other:2")
    assert out.returncode == 0, out.stderr
    assert f"2: digest: {layout.manifest_digest}" in out.stdout
    out = docker_cli("images", "--digests", "--format", "{{.Repository}} {{.Digest}}")
    assert f"{host}/cli/img {layout.manifest_digest}" in out.stdout


def test_berthd_registry_mirror_serves_docker_hub_names(
    berth_registry: Registry, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    """`berthd --registry-mirror`: a Docker Hub name is pulled from the mirror on
    127.0.0.1 (there is no internet here, so Hub itself could not answer)."""
    layout = oci_layout()
    host = berth_registry.host
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout.path}:latest",
           f"docker://{host}/library/mirrored:1")  # fmt: skip
    flags = ("--registry-mirror", f"http://{host}", "--max-concurrent-downloads", "1",
             "--insecure-registry", "10.9.0.0/16", "--insecure-registry", "reg.lan:5000")  # fmt: skip
    with running_berthd(*flags) as address:
        api = docker.APIClient(base_url=address, version="1.43")
        config = api.info()["RegistryConfig"]
        assert config["Mirrors"] == [f"http://{host}"]
        assert config["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "10.9.0.0/16"]
        assert config["IndexConfigs"]["reg.lan:5000"]["Secure"] is False
        assert config["IndexConfigs"]["docker.io"]["Mirrors"] == [f"http://{host}"]
        out = list(api.pull("mirrored", tag="1", stream=True, decode=True))
        assert out[-1]["status"] == "Status: Downloaded newer image for mirrored:1", out[-3:]
        # One download at a time: the second layer waited for the first.
        waiting = [m.get("id") for m in out if m.get("status") == "Waiting"]
        assert waiting == [layout.layer_digests[1][7:19]]
        image = api.inspect_image("mirrored:1")
        assert image["Id"] == layout.config_digest
        assert image["RepoTags"] == ["mirrored:1"]

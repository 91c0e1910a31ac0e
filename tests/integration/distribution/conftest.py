"""Fixtures for distribution tests: real registries on 127.0.0.1 and OCI layouts.

Registries run as real processes on random ports with temporary roots and are
stopped by pid in teardown; the helpers live in `berth.distribution.testing` so
the benchmarks can use them too.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth import errors
from berth.distribution.testing import (
    Layout,
    Registry,
    layer_tar,
    make_oci_layout,
    start_berth_registry,
    start_docker_registry,
    stop,
)


def _start(kind: str, root: Path) -> Registry:
    if kind == "berth":
        return start_berth_registry(root)
    try:
        return start_docker_registry(root)
    except errors.Unavailable as e:
        pytest.skip(str(e))


@contextlib.contextmanager
def _running(kind: str, root: Path) -> Iterator[Registry]:
    reg = _start(kind, root)
    try:
        yield reg
    finally:
        stop(reg.proc)


@pytest.fixture
def berth_registry(tmp_path: Path) -> Iterator[Registry]:
    with _running("berth", tmp_path / "berth-registry") as reg:
        yield reg


@pytest.fixture
def docker_registry(tmp_path: Path) -> Iterator[Registry]:
    with _running("docker", tmp_path / "docker-registry") as reg:
        yield reg


@pytest.fixture(params=["berth", "docker"])
def any_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    with _running(request.param, tmp_path / f"{request.param}-registry") as reg:
        yield reg


@pytest.fixture
def oci_layout(tmp_path: Path) -> Callable[..., Layout]:
    counter = iter(range(1000))

    def make(layers: list[bytes] | None = None, tag: str = "latest", **kw) -> Layout:
        if layers is None:
            layers = [layer_tar({}, busybox=True), layer_tar({"etc/hello": "hello\n"})]
        return make_oci_layout(tmp_path / f"layout{next(counter)}", layers, tag, **kw)

    return make


@pytest.fixture
def skopeo() -> Callable[..., subprocess.CompletedProcess]:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["skopeo", "--insecure-policy", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    return run


@pytest.fixture
def busybox_layer() -> bytes:
    return layer_tar({}, busybox=True)

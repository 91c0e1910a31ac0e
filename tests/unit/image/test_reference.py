"""Reference normalisation, checked against what Docker prints for the same input."""

from __future__ import annotations

import pytest

from berth.errors import InvalidArgument
from berth.image import reference as refs

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "short"),
    [
        ("busybox", "docker.io/library/busybox", "busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox", "busybox"),
        ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
        ("index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x"),
        ("user/app", "docker.io/user/app", "user/app"),
        ("localhost/app", "localhost/app", "localhost/app"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("127.0.0.1:5000/a", "127.0.0.1:5000/a", "127.0.0.1:5000/a"),
        ("quay.io/a/b/c", "quay.io/a/b/c", "quay.io/a/b/c"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
        ("Host:5000/a", "Host:5000/a", "Host:5000/a"),
        ("a_b-c__d/e.f", "docker.io/a_b-c__d/e.f", "a_b-c__d/e.f"),
    ],
)
def test_normalisation_and_familiar_form(text: str, full: str, short: str) -> None:
    ref = refs.parse(text)
    assert str(ref) == full
    assert ref.familiar() == short


def test_parse_tagged_adds_latest_only_to_bare_names() -> None:
    assert str(refs.parse_tagged("busybox")) == "docker.io/library/busybox:latest"
    assert refs.parse_tagged("busybox:1").tag == "1"
    assert refs.parse_tagged(f"busybox@{D}").tag is None


def test_parts() -> None:
    ref = refs.parse("localhost:5000/a/b:t")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "t", None)
    assert ref.familiar_name == "localhost:5000/a/b"
    assert str(ref.repository()) == "localhost:5000/a/b"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "UPPER",
        "a:b:c",
        "busybox:",
        ":tag",
        "-busybox",
        "busybox/",
        "a//b",
        "busybox@sha256:abc",
        "busybox@sha256:" + "A" * 64 + "zz",
        "busybox:" + "t" * 129,
        "a b",
        "http://x/y",
    ],
)
def test_invalid_reference_format(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        refs.parse(text)


def test_uppercase_repository_says_lowercase() -> None:
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        refs.parse("Busybox")


def test_64_hex_is_not_a_name() -> None:
    with pytest.raises(InvalidArgument, match="64-byte hexadecimal"):
        refs.parse("a" * 64)


def test_name_too_long() -> None:
    with pytest.raises(InvalidArgument, match="255"):
        refs.parse("a/" * 130 + "b")


def test_with_tag_validates() -> None:
    ref = refs.parse("busybox")
    assert ref.with_tag("v1").familiar() == "busybox:v1"
    with pytest.raises(InvalidArgument):
        ref.with_tag("-bad")

import base64
import json
import subprocess
from pathlib import Path

import pytest

from berth.distribution.server.app import _parse_range
from berth.distribution.server.errors import RegistryError
from berth.distribution.server.htpasswd import Htpasswd
from berth.distribution.server.manifests import check_manifest
from berth.distribution.server.names import valid_digest, valid_name, valid_tag

D = "sha256:" + "a" * 64
DB = "sha256:" + "b" * 64
DC = "sha256:" + "c" * 64


def test_name_tag_digest_grammars() -> None:
    assert valid_name("library/busybox") and valid_name("a.b/c__d/e-f")
    for bad in ("Upper", "a/../b", "/a", "a//b", "a/", "_x", "a" * 256):
        assert not valid_name(bad), bad
    assert valid_tag("v1.0_rc-2") and not valid_tag(".hidden") and not valid_tag("a" * 129)
    assert (
        valid_digest(D) and not valid_digest("sha256:" + "A" * 64) and not valid_digest("md5:abc")
    )


def _manifest(**over) -> bytes:
    m = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D, "size": 2},
        "layers": [{"mediaType": "x", "digest": DB, "size": 3}],
    }
    m.update(over)
    return json.dumps(m).encode()


def test_manifest_check_lists_what_must_exist() -> None:
    checked = check_manifest(_manifest(), None)
    assert checked.blobs == [D, DB]
    foreign = _manifest(layers=[{"mediaType": "x", "digest": DC, "size": 1, "urls": ["http://x"]}])
    assert check_manifest(foreign, None).blobs == [D]
    index = json.dumps(
        {"schemaVersion": 2, "manifests": [{"mediaType": "m", "digest": D, "size": 1}]}
    ).encode()
    assert check_manifest(index, "application/vnd.oci.image.index.v1+json").children == [D]


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{",
        _manifest(schemaVersion=1),
        _manifest(config={"digest": "sha256:zz", "size": 1}),
        _manifest(mediaType="application/x-unknown"),
        _manifest(layers="nope"),
    ],
)
def test_malformed_manifests_are_manifest_invalid(body: bytes) -> None:
    with pytest.raises(RegistryError) as e:
        check_manifest(body, None)
    assert e.value.code == "MANIFEST_INVALID" and e.value.status == 400


def test_content_type_must_agree_with_media_type() -> None:
    with pytest.raises(RegistryError):
        check_manifest(_manifest(), "application/vnd.docker.distribution.manifest.v2+json")
    check_manifest(_manifest(), "application/json")


def test_range_parsing() -> None:
    assert _parse_range("bytes=0-9", 100) == (0, 9)
    assert _parse_range("bytes=90-", 100) == (90, 99)
    assert _parse_range("bytes=-10", 100) == (90, 99)
    assert _parse_range("bytes=50-500", 100) == (50, 99)
    for bad in ("bytes=100-", "items=0-1", "bytes=-", "bytes=5-1"):
        with pytest.raises(RegistryError) as e:
            _parse_range(bad, 100)
        assert e.value.code == "RANGE_INVALID" and e.value.status == 416


def test_htpasswd_bcrypt(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    subprocess.run(["htpasswd", "-cbB", str(path), "u1", "pw1"], check=True, capture_output=True)
    auth = Htpasswd(path)

    def basic(user: str, pw: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    assert auth.check(basic("u1", "pw1")) == "u1"
    assert auth.check(basic("u1", "pw1")) == "u1"  # remembered
    assert auth.check(basic("u1", "nope")) is None
    assert auth.check(basic("nobody", "pw1")) is None
    assert auth.check("Bearer abc") is None and auth.check(None) is None
    (tmp_path / "plain").write_text("u:{SHA}abc\n")
    with pytest.raises(Exception, match="not bcrypt"):
        Htpasswd(tmp_path / "plain")

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from berth import errors
from berth.distribution.credentials import HUB_KEY, Credential, CredentialStore, registry_key


def test_auths_entry_in_docker_format(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "cfg")
    store.store("127.0.0.1:5000", Credential("alice", "pa:ss"))
    data = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert data == {
        "auths": {"127.0.0.1:5000": {"auth": base64.b64encode(b"alice:pa:ss").decode()}}
    }
    assert stat.S_IMODE((tmp_path / "cfg" / "config.json").stat().st_mode) == 0o600
    assert store.get("http://127.0.0.1:5000/") == Credential("alice", "pa:ss")
    assert store.get("other:1").empty
    store.erase("127.0.0.1:5000")
    assert store.get("127.0.0.1:5000").empty
    with pytest.raises(errors.NotFound, match="Not logged in"):
        store.erase("127.0.0.1:5000")


def test_docker_hub_names_share_one_key() -> None:
    for name in (
        "docker.io",
        "index.docker.io",
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
    ):
        assert registry_key(name) == HUB_KEY


def test_other_keys_are_kept(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"auths": {}, "psFormat": "x"}))
    store = CredentialStore(tmp_path)
    store.store("docker.io", Credential("u", "p"))
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["psFormat"] == "x" and HUB_KEY in data["auths"]


def test_credential_helper_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    db = tmp_path / "helper-db"
    helper = bindir / "docker-credential-testing"
    helper.write_text(
        "#!/usr/bin/python3\n"
        "import json, sys, os\n"
        f"db = {str(db)!r}\n"
        "data = json.load(open(db)) if os.path.exists(db) else {}\n"
        "action = sys.argv[1]; inp = sys.stdin.read()\n"
        "if action == 'store':\n"
        "    d = json.loads(inp); data[d['ServerURL']] = d; json.dump(data, open(db, 'w'))\n"
        "elif action == 'get':\n"
        "    key = inp.strip()\n"
        "    if key not in data: print('credentials not found in native keychain'); sys.exit(1)\n"
        "    print(json.dumps(data[key]))\n"
        "elif action == 'erase':\n"
        "    data.pop(inp.strip(), None); json.dump(data, open(db, 'w'))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"credHelpers": {"reg.example:443": "testing"}}))
    store = CredentialStore(cfg)
    store.store("reg.example:443", Credential("carol", "secret"))
    saved = json.loads((cfg / "config.json").read_text())
    assert saved["auths"] == {"reg.example:443": {}}  # the secret is not in the file
    assert json.loads(db.read_text())["reg.example:443"]["Secret"] == "secret"
    assert store.get("reg.example:443") == Credential("carol", "secret")
    assert store.get("elsewhere").empty  # no helper for it, no auths entry
    store.erase("reg.example:443")
    assert store.get("reg.example:443").empty


def test_missing_helper_is_reported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "does-not-exist-xyz"}))
    with pytest.raises(errors.Unavailable, match="docker-credential-does-not-exist-xyz"):
        CredentialStore(tmp_path).get("any")

"""The CLI's client-side registry commands: `berth manifest inspect` prints the
registry's manifest or index JSON, with credentials read through a credential
helper named by `credsStore`; `berth logout` erases through that helper. No
daemon is involved: these run in the CLI process, as in Docker's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from berth.distribution.client import RegistryClient
from berth.distribution.credentials import Credential
from berth.distribution.registry import RegistryOptions, endpoints
from berth.distribution.testing import Layout, Registry, start_berth_registry, stop

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

HELPER = """#!{python}
import json, os, sys
db = {db!r}
data = json.load(open(db)) if os.path.exists(db) else {{}}
action = sys.argv[1]; inp = sys.stdin.read()
if action == "store":
    d = json.loads(inp); data[d["ServerURL"]] = d; json.dump(data, open(db, "w"))
elif action == "get":
    if inp.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[inp.strip()]))
elif action == "erase":
    data.pop(inp.strip(), None); json.dump(data, open(db, "w"))
"""


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Registry]:
    htpasswd = tmp_path / "htpasswd"
    subprocess.run(
        ["htpasswd", "-cbB", str(htpasswd), "dora", "pw"], check=True, capture_output=True
    )
    reg = start_berth_registry(tmp_path / "authreg", "--htpasswd", str(htpasswd))
    try:
        yield reg
    finally:
        stop(reg.proc)


def test_manifest_inspect_and_logout_through_a_credential_helper(
    auth_registry: Registry, tmp_path: Path, oci_layout: Callable[..., Layout], skopeo: Callable
) -> None:
    host = auth_registry.host
    layout = oci_layout()
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "dora:pw",
           f"oci:{layout.path}:latest", f"docker://{host}/sec/img:1")  # fmt: skip
    manifest = (layout.path / "blobs" / "sha256" / layout.manifest_digest[7:]).read_bytes()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": layout.manifest_digest,
                       "size": len(manifest), "platform": {"architecture": "amd64", "os": "linux"}}],
    }).encode()  # fmt: skip
    client = RegistryClient(endpoints(host, RegistryOptions())[0], Credential("dora", "pw"))
    client.put_manifest("sec/img", "multi", index, OCI_INDEX)

    bindir, config, db = tmp_path / "bin", tmp_path / "config", tmp_path / "helper-db"
    bindir.mkdir()
    config.mkdir()
    helper = bindir / "docker-credential-berthtest"
    helper.write_text(HELPER.format(python=sys.executable, db=str(db)))
    helper.chmod(0o755)
    (config / "config.json").write_text(json.dumps({"credsStore": "berthtest"}))
    env = {**os.environ, "BERTH_CONFIG": str(config),
           "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    berth = str(Path(sys.executable).parent / "berth")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([berth, *args], env=env, capture_output=True, text=True, timeout=60)

    refused = run("manifest", "inspect", f"{host}/sec/img:1")
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower()
    # The secret lives only in the helper, as `docker login` with credsStore leaves it.
    db.write_text(json.dumps({host: {"ServerURL": host, "Username": "dora", "Secret": "pw"}}))
    out = run("manifest", "inspect", f"{host}/sec/img:1")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(manifest)
    out = run("manifest", "inspect", f"{host}/sec/img:multi")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(index)
    assert out.stdout.startswith("{\n\t")  # indented with tabs, as docker prints it

    out = run("logout", host)
    assert out.stdout == f"Removing login credentials for {host}\n"
    assert host not in json.loads(db.read_text())
    assert run("manifest", "inspect", f"{host}/sec/img:1").returncode != 0

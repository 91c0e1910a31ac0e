"""Registry credentials on the client: `~/.berth/config.json` and `X-Registry-Auth`.

The file has docker's shape (`{"auths": {"host": {"auth": base64("user:pass")}}}`)
so the same tooling reads it; `BERTH_CONFIG` or `--config` picks another
directory. Credentials go to the daemon in the `X-Registry-Auth` header as
base64url JSON, as the Engine API specifies.
"""

from __future__ import annotations

import base64
import json
import os

DEFAULT_INDEX = "https://index.docker.io/v1/"


def config_dir(override: str | None = None) -> str:
    return override or os.environ.get("BERTH_CONFIG") or os.path.expanduser("~/.berth")


def load(directory: str | None = None) -> dict:
    path = os.path.join(config_dir(directory), "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(data: dict, directory: str | None = None) -> None:
    """Atomic write, mode 0600 (it holds passwords)."""
    base = config_dir(directory)
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = os.path.join(base, "config.json")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent="\t")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def registry_of(ref: str) -> str:
    """The registry host an image reference points at (docker.io's index by default)."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_INDEX


def credentials(registry: str, directory: str | None = None) -> dict[str, str] | None:
    entry = (load(directory).get("auths") or {}).get(registry)
    if not entry or not entry.get("auth"):
        return None
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return {"username": user, "password": password, "serveraddress": registry}


def header_for(ref: str, directory: str | None = None) -> dict[str, str]:
    """`{"X-Registry-Auth": ...}` for the reference's registry (empty object when none)."""
    creds = credentials(registry_of(ref), directory) or {}
    encoded = base64.urlsafe_b64encode(json.dumps(creds).encode()).decode()
    return {"X-Registry-Auth": encoded}


def store(registry: str, username: str, password: str, directory: str | None = None) -> None:
    data = load(directory)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    data.setdefault("auths", {})[registry] = {"auth": token}
    save(data, directory)


def remove(registry: str, directory: str | None = None) -> bool:
    data = load(directory)
    auths = data.get("auths") or {}
    if registry not in auths:
        return False
    del auths[registry]
    save(data, directory)
    return True

"""Registry credentials on the client side, over berth.distribution's credential store.

The store is docker's `config.json` in the berth config directory (`--config`,
`$BERTH_CONFIG`, else `~/.berth`), with `credsStore`/`credHelpers` helpers; this
module only adds what the CLI needs: which registry a reference names, and the
`X-Registry-Auth` header (base64url JSON) the Engine API expects.
"""

from __future__ import annotations

import base64
import os

from berth import jsoncodec as json

DEFAULT_INDEX = "https://index.docker.io/v1/"


def config_dir(override: str | None = None) -> str:
    return override or os.environ.get("BERTH_CONFIG") or os.path.expanduser("~/.berth")


def _store(directory: str | None):  # -> CredentialStore (imported lazily: start-up cost)
    from pathlib import Path

    from berth.distribution.credentials import CredentialStore

    return CredentialStore(Path(config_dir(directory)))


def registry_of(ref: str) -> str:
    """The registry host an image reference points at (Docker Hub's index by default)."""
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return first
    return DEFAULT_INDEX


def credentials(registry: str, directory: str | None = None) -> dict[str, str] | None:
    """The stored credential as the Engine API's AuthConfig, None when there is none."""
    cred = _store(directory).get(registry)
    if cred.empty:
        return None
    out = {"serveraddress": registry}
    if cred.username or cred.password:
        out.update(username=cred.username, password=cred.password)
    if cred.identity_token:
        out["identitytoken"] = cred.identity_token
    return out


def header_for(ref: str, directory: str | None = None) -> dict[str, str]:
    """`{"X-Registry-Auth": ...}` for the reference's registry (an empty object when none)."""
    creds = credentials(registry_of(ref), directory) or {}
    encoded = base64.urlsafe_b64encode(json.dumps(creds).encode()).decode()
    return {"X-Registry-Auth": encoded}


def store(
    registry: str,
    username: str,
    password: str,
    directory: str | None = None,
    identity_token: str = "",
) -> None:
    from berth.distribution.credentials import Credential

    _store(directory).store(registry, Credential(username, password, identity_token))


def remove(registry: str, directory: str | None = None) -> bool:
    """Forget a registry's credential; False when none was stored."""
    from berth import errors

    try:
        _store(directory).erase(registry)
    except errors.NotFound:
        return False
    return True

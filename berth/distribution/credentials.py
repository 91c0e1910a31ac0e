"""Registry credentials in Docker's config.json format.

The file (`<config dir>/config.json`, the config dir being `~/.berth` or
`$BERTH_CONFIG`) keeps `auths: {registry: {auth: base64(user:password)}}`,
exactly as Docker does, so an existing Docker config can be copied over. When
the file names a credential helper (`credsStore` for all registries,
`credHelpers` per registry), secrets go to the program
`docker-credential-<name>` through its get/store/erase protocol instead, and
`auths` keeps only an empty entry that remembers the login.

Docker Hub's key is `https://index.docker.io/v1/`, as in Docker.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from berth import errors

HUB_KEY = "https://index.docker.io/v1/"
HUB_NAMES = {
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    HUB_KEY,
    "https://index.docker.io/v1",
}


@dataclass(slots=True)
class Credential:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth refresh token (username "<token>" for helpers)

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)


def default_config_dir() -> Path:
    """`$BERTH_CONFIG`, else `~/.berth`: for the CLI's and daemon's entry points."""
    env = os.environ.get("BERTH_CONFIG")
    return Path(env) if env else Path.home() / ".berth"


def registry_key(registry: str) -> str:
    """The key a registry's entry has in config.json."""
    host = registry.removeprefix("https://").removeprefix("http://").rstrip("/")
    if registry in HUB_NAMES or host in HUB_NAMES:
        return HUB_KEY
    return host


class CredentialStore:
    """Read and write credentials of one config.json."""

    def __init__(self, config_dir: Path) -> None:
        self.dir = Path(config_dir)
        self.path = self.dir / "config.json"

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise errors.InvalidArgument(f"{self.path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise errors.InvalidArgument(f"{self.path} is not a JSON object")
        return data

    def _save(self, data: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".config.json.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)

    def _helper(self, data: dict, key: str) -> str | None:
        helpers = data.get("credHelpers") or {}
        return helpers.get(key) or data.get("credsStore") or None

    def get(self, registry: str) -> Credential:
        """The credential for `registry`, empty when none is stored."""
        key = registry_key(registry)
        data = self._load()
        helper = self._helper(data, key)
        if helper:
            try:
                out = _run_helper(helper, "get", key)
            except errors.NotFound:
                return Credential()
            doc = json.loads(out)
            user, secret = doc.get("Username", ""), doc.get("Secret", "")
            if user == "<token>":
                return Credential(identity_token=secret)
            return Credential(user, secret)
        entry = (data.get("auths") or {}).get(key) or {}
        cred = Credential(identity_token=entry.get("identitytoken", ""))
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise errors.InvalidArgument(f"bad auth entry for {key} in {self.path}") from None
            cred.username, cred.password = user, password
        elif entry.get("username"):
            cred.username, cred.password = entry["username"], entry.get("password", "")
        return cred

    def store(self, registry: str, cred: Credential) -> None:
        key = registry_key(registry)
        data = self._load()
        auths = data.setdefault("auths", {})
        helper = self._helper(data, key)
        if helper:
            user = "<token>" if cred.identity_token else cred.username
            secret = cred.identity_token or cred.password
            doc = json.dumps({"ServerURL": key, "Username": user, "Secret": secret})
            _run_helper(helper, "store", doc)
            auths[key] = {}
        else:
            entry: dict[str, str] = {}
            if cred.username or cred.password:
                entry["auth"] = base64.b64encode(
                    f"{cred.username}:{cred.password}".encode()
                ).decode()
            if cred.identity_token:
                entry["identitytoken"] = cred.identity_token
            auths[key] = entry
        self._save(data)

    def erase(self, registry: str) -> None:
        """Forget `registry`'s credential; NotFound when none was stored."""
        key = registry_key(registry)
        data = self._load()
        auths = data.get("auths") or {}
        helper = self._helper(data, key)
        known = key in auths
        if helper:
            with contextlib.suppress(errors.NotFound):
                _run_helper(helper, "erase", key)
                known = True
        if not known:
            raise errors.NotFound(f"Not logged in to {key}")
        auths.pop(key, None)
        self._save(data)

    def all(self) -> dict[str, Credential]:
        """Every stored credential by registry key (for X-Registry-Config)."""
        data = self._load()
        return {key: self.get(key) for key in (data.get("auths") or {})}


def _run_helper(name: str, action: str, stdin: str) -> str:
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, action], input=stdin, capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError:
        raise errors.Unavailable(f"credential helper {program} is not installed") from None
    if proc.returncode != 0:
        message = (proc.stdout.strip() or proc.stderr.strip()) or f"exit {proc.returncode}"
        if "credentials not found" in message.lower():
            raise errors.NotFound(f"{program}: {message}")
        raise errors.InternalError(f"{program} {action}: {message}")
    return proc.stdout

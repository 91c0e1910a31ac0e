"""Basic auth against an htpasswd file of bcrypt entries (`htpasswd -B`).

bcrypt is slow on purpose; a registry client sends the same Authorization
header on every request, so a successful check is remembered by a keyed hash of
the header for the life of the process (a changed file is re-read when its
mtime changes, which also forgets the remembered checks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from pathlib import Path

from berth import errors


class Htpasswd:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, bytes] = {}
        self._mtime = -1.0
        self._ok: set[bytes] = set()
        self._key = os.urandom(16)
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise errors.InvalidArgument(f"htpasswd file not found: {self.path}") from None
        if st.st_mtime == self._mtime:
            return
        entries: dict[str, bytes] = {}
        for line in self.path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#") or ":" not in line:
                continue
            user, _, hashed = line.partition(":")
            if not hashed.startswith(("$2y$", "$2b$", "$2a$")):
                raise errors.InvalidArgument(
                    f"htpasswd entry for {user} in {self.path} is not bcrypt (use htpasswd -B)"
                )
            entries[user] = hashed.encode()
        self._entries, self._mtime, self._ok = entries, st.st_mtime, set()

    def check(self, authorization: str | None) -> str | None:
        """The user name if `authorization` is valid Basic credentials, else None."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        mac = hmac.new(self._key, authorization.encode(), hashlib.sha256).digest()
        with self._lock:
            self._load()
            if mac in self._ok:
                return user
            hashed = self._entries.get(user)
        if hashed is None:
            return None
        import bcrypt

        if not bcrypt.checkpw(password.encode(), hashed):
            return None
        with self._lock:
            self._ok.add(mac)
        return user

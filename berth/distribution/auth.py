"""Authentication to a registry through its `WWW-Authenticate` challenge.

A registry answers an unauthenticated request with 401 and a challenge:
`Basic realm=...` (send the credential on every request) or
`Bearer realm=...,service=...,scope=...` (fetch a token from the realm, with the
credential as Basic auth if there is one, for the scope the challenge names,
and send `Bearer <token>`). Tokens are cached by scope until they expire.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from berth import errors
from berth.distribution.credentials import Credential
from berth.distribution.transport import Pool

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


@dataclass(slots=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str | None) -> list[Challenge]:
    """The challenges of one WWW-Authenticate header value."""
    out: list[Challenge] = []
    if not header:
        return out
    for m in re.finditer(
        r"(?:^|,)\s*([A-Za-z]+)\s+((?:[^,\"]|\"(?:[^\"\\]|\\.)*\")*(?:,\s*[A-Za-z_][A-Za-z0-9_-]*\s*=\s*(?:\"(?:[^\"\\]|\\.)*\"|[^\s,]*))*)",
        header,
    ):
        params = {k.lower(): (q if q or not u else u) for k, q, u in _PARAM.findall(m.group(2))}
        out.append(Challenge(m.group(1).lower(), params))
    return out


class Authenticator:
    """Authorization headers for one registry and one credential."""

    def __init__(self, pool: Pool, credential: Credential, *, verify_tls: bool = True) -> None:
        self.pool = pool
        self.credential = credential
        self.verify_tls = verify_tls
        self.challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def learn(self, header: str | None) -> Challenge | None:
        """Remember the preferred challenge of a 401 response (bearer over basic)."""
        challenges = parse_challenges(header)
        for scheme in ("bearer", "basic"):
            for c in challenges:
                if c.scheme == scheme:
                    self.challenge = c
                    return c
        return None

    def header(self, scope: str) -> str | None:
        """The Authorization value for a request needing `scope`, None if not needed."""
        c = self.challenge
        if c is None:
            return None
        if c.scheme == "basic":
            if self.credential.empty:
                return None
            raw = f"{self.credential.username}:{self.credential.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return "Bearer " + self.token(scope)

    def token(self, scope: str) -> str:
        with self._lock:
            cached = self._tokens.get(scope)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        token, expires_in = self._fetch_token(scope)
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + max(expires_in - 10, 10))
        return token

    def _fetch_token(self, scope: str) -> tuple[str, float]:
        assert self.challenge is not None
        realm = self.challenge.params.get("realm")
        if not realm:
            raise errors.Unauthorized("registry's bearer challenge has no realm")
        query = {"service": self.challenge.params.get("service", "")}
        if scope:
            query["scope"] = scope
        headers = {}
        cred = self.credential
        if cred.identity_token:
            # OAuth2 refresh token flow.
            body = urlencode(
                {
                    **query,
                    "grant_type": "refresh_token",
                    "refresh_token": cred.identity_token,
                    "client_id": "berth",
                }
            ).encode()
            resp = self.pool.request(
                "POST",
                realm,
                {"Content-Type": "application/x-www-form-urlencoded"},
                body,
                verify=self.verify_tls,
            )
        else:
            if not cred.empty:
                raw = f"{cred.username}:{cred.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            sep = "&" if "?" in realm else "?"
            resp = self.pool.request(
                "GET", realm + sep + urlencode(query), headers, verify=self.verify_tls
            )
        data = resp.read()
        if resp.status in (401, 403):
            raise errors.Unauthorized(
                f"unauthorized: authentication to {realm} failed ({resp.status})"
            )
        if resp.status != 200:
            raise errors.Unavailable(f"token server {realm} answered {resp.status}")
        try:
            doc = json.loads(data)
        except ValueError:
            raise errors.Unavailable(f"token server {realm} sent invalid JSON") from None
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise errors.Unauthorized(f"token server {realm} sent no token")
        return token, float(doc.get("expires_in") or 60)

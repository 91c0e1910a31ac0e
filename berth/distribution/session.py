"""Clients for a reference's registry: endpoints in order, one credential, one pool.

`Session` is what pull, push, search and inspect share: it turns a domain into
`RegistryClient`s (mirrors first for Docker Hub, then the registry itself),
with the credential from a lookup function the caller provides (the daemon
passes the one from X-Registry-Auth; the CLI-side uses `CredentialStore.get`).
"""

from __future__ import annotations

from collections.abc import Callable

from berth.distribution.client import RegistryClient
from berth.distribution.credentials import Credential
from berth.distribution.registry import RegistryOptions, endpoints
from berth.distribution.transport import Pool

CredentialLookup = Callable[[str], Credential]


def _no_credentials(domain: str) -> Credential:
    return Credential()


class Session:
    def __init__(
        self,
        options: RegistryOptions | None = None,
        credentials: CredentialLookup | None = None,
    ) -> None:
        self.options = options or RegistryOptions()
        self.credentials = credentials or _no_credentials
        self.pool = Pool(ca_file=self.options.ca_file)
        self._clients: dict[tuple[str, bool], RegistryClient] = {}

    def clients(self, domain: str, *, push: bool = False) -> list[RegistryClient]:
        """Clients to try in order (mirrors only for pulls from Docker Hub)."""
        out = []
        for ep in endpoints(domain, self.options):
            if push and ep.mirror:
                continue
            key = (ep.host, ep.mirror)
            if key not in self._clients:
                cred = Credential() if ep.mirror else self.credentials(domain)
                self._clients[key] = RegistryClient(ep, cred, pool=self.pool)
            out.append(self._clients[key])
        return out

    def client(self, domain: str) -> RegistryClient:
        """The registry's own client (no mirror)."""
        return self.clients(domain, push=True)[0]

    def close(self) -> None:
        self.pool.close()

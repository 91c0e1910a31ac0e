"""Where each blob was last seen: (digest, registry, repository) rows.

Docker keeps this "v2 metadata" so that a push to a registry that already has
a layer in another repository can mount it instead of uploading it. Pull and
push add rows; push asks for candidates on the target registry. Table from
migration 600 in berth/db.py.
"""

from __future__ import annotations

import sqlite3


class SourceStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, digest: str, registry: str, repository: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO distribution_sources (digest, registry, repository) VALUES (?,?,?)",
            (digest, registry, repository),
        )

    def repositories(self, digest: str, registry: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT repository FROM distribution_sources WHERE digest = ? AND registry = ?",
            (digest, registry),
        )
        return [r[0] for r in rows]

"""The build cache: (parent image, step key) -> the image that step produced.

A step's key is a digest of what determines its result: the instruction as
expanded, the build args in effect for RUN, and for COPY/ADD the content and
metadata of the sources. Because the parent image id is part of the lookup,
a changed step invalidates every step after it. An entry whose image was
deleted is ignored (and dropped). The table is migration 500 in berth/db.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable


def step_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


class BuildCache:
    def __init__(self, conn: sqlite3.Connection, exists: Callable[[str], bool]) -> None:
        self.conn = conn
        self.exists = exists
        self._lock = threading.Lock()

    def get(self, parent: str, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT image_id FROM build_cache WHERE parent = ? AND key = ?", (parent, key)
            ).fetchone()
        if row is None:
            return None
        if self.exists(row[0]):
            return row[0]
        with self._lock:
            self.conn.execute("DELETE FROM build_cache WHERE parent = ? AND key = ?", (parent, key))
        return None

    def put(self, parent: str, key: str, image_id: str) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO build_cache (parent, key, image_id, created)"
                " VALUES (?, ?, ?, ?)",
                (parent, key, image_id, time.time()),
            )

    def clear(self) -> list[str]:
        """Forget every entry (the images stay); returns the keys dropped."""
        with self._lock:
            rows = self.conn.execute("SELECT key FROM build_cache").fetchall()
            self.conn.execute("DELETE FROM build_cache")
        return [r[0] for r in rows]

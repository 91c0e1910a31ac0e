"""Volumes and who uses them, in berth's SQLite file (MIGRATIONS 400-499 in berth/db.py)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

from berth.errors import Conflict
from berth.volumes.driver import VolumeRecord


class VolumeStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(self, vol: VolumeRecord) -> None:
        try:
            self.conn.execute(
                "INSERT INTO volumes (name, driver, created, config) VALUES (?,?,?,?)",
                (vol.name, vol.driver, vol.created, json.dumps(asdict(vol))),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"volume {vol.name} already exists") from None

    def get(self, name: str) -> VolumeRecord | None:
        row = self.conn.execute("SELECT config FROM volumes WHERE name=?", (name,)).fetchone()
        return VolumeRecord(**json.loads(row[0])) if row else None

    def all(self) -> list[VolumeRecord]:
        rows = self.conn.execute("SELECT config FROM volumes ORDER BY created, name").fetchall()
        return [VolumeRecord(**json.loads(r[0])) for r in rows]

    def delete(self, name: str) -> None:
        self.conn.execute("DELETE FROM volumes WHERE name=?", (name,))

    def add_ref(self, name: str, container_id: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO volume_refs (volume, container_id) VALUES (?,?)",
            (name, container_id),
        )

    def drop_refs(self, container_id: str) -> list[str]:
        names = [
            r[0]
            for r in self.conn.execute(
                "SELECT volume FROM volume_refs WHERE container_id=?", (container_id,)
            )
        ]
        self.conn.execute("DELETE FROM volume_refs WHERE container_id=?", (container_id,))
        return names

    def refs(self, name: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT container_id FROM volume_refs WHERE volume=?", (name,)
            )
        ]

    def volumes_of(self, container_id: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT volume FROM volume_refs WHERE container_id=?", (container_id,)
            )
        ]

    # a container's resolved mounts (MIGRATION 401)
    def put_mounts(self, container_id: str, mounts: list[dict]) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO container_mounts (container_id, mounts) VALUES (?,?)",
            (container_id, json.dumps(mounts)),
        )

    def mounts(self, container_id: str) -> list[dict] | None:
        row = self.conn.execute(
            "SELECT mounts FROM container_mounts WHERE container_id=?", (container_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def delete_mounts(self, container_id: str) -> None:
        self.conn.execute("DELETE FROM container_mounts WHERE container_id=?", (container_id,))

"""Container metadata in SQLite (table `containers`, migration 200 in berth/db.py).

The name column is UNIQUE, so two concurrent creates asking for one name
cannot both win: the loser gets Docker's 409. Lookups accept a full id, a
name (with or without its leading slash) or an unambiguous id prefix.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from berth.daemon.state import State
from berth.errors import Conflict, InvalidArgument, NotFound


@dataclass(slots=True)
class Container:
    id: str
    name: str  # without the leading slash
    image: str  # as the user wrote it
    image_id: str
    created: int  # unix ns
    runtime: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    networking_config: dict[str, Any]
    state: State
    extra: dict[str, Any] = field(default_factory=dict)


def _row(r: sqlite3.Row) -> Container:
    return Container(
        id=r["id"],
        name=r["name"],
        image=r["image"],
        image_id=r["image_id"],
        created=r["created"],
        runtime=r["runtime"],
        config=json.loads(r["config"]),
        host_config=json.loads(r["host_config"]),
        networking_config=json.loads(r["networking_config"]),
        state=State.from_json(json.loads(r["state"])),
        extra=json.loads(r["extra"]),
    )


def name_conflict(name: str, other_id: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container '
        f'"{other_id}". You have to remove (or rename) that container to be able to reuse '
        "that name."
    )


class ContainerStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()

    def insert(self, c: Container) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO containers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        c.id, c.name, c.image, c.image_id, c.created, c.runtime,
                        json.dumps(c.config), json.dumps(c.host_config),
                        json.dumps(c.networking_config), json.dumps(c.state.to_json()),
                        json.dumps(c.extra),
                    ),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT id FROM containers WHERE name = ?", (c.name,)
                ).fetchone()
                raise name_conflict(c.name, row["id"] if row else "?") from None

    def name_taken(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
        return row["id"] if row else None

    def get(self, ref: str) -> Container:
        if not ref:
            raise NotFound("No such container: ")
        name = ref[1:] if ref.startswith("/") else ref
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM containers WHERE id = ? OR name = ?", (ref, name)
            ).fetchone()
            if row is None and all(ch in "0123456789abcdef" for ch in ref):
                rows = self._db.execute(
                    "SELECT * FROM containers WHERE id LIKE ? LIMIT 2", (ref + "%",)
                ).fetchall()
                if len(rows) > 1:
                    raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
                row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"No such container: {ref}")
        return _row(row)

    def all(self) -> list[Container]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM containers ORDER BY created DESC").fetchall()
        return [_row(r) for r in rows]

    def save_state(self, cid: str, state: State) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state.to_json()), cid)
            )

    def save(self, c: Container) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE containers SET config = ?, host_config = ?, networking_config = ?,"
                " state = ?, extra = ? WHERE id = ?",
                (
                    json.dumps(c.config), json.dumps(c.host_config),
                    json.dumps(c.networking_config), json.dumps(c.state.to_json()),
                    json.dumps(c.extra), c.id,
                ),
            )  # fmt: skip

    def rename(self, cid: str, new_name: str) -> None:
        with self._lock:
            try:
                self._db.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT id FROM containers WHERE name = ?", (new_name,)
                ).fetchone()
                raise name_conflict(new_name, row["id"] if row else "?") from None

    def delete(self, cid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM containers WHERE id = ?", (cid,))

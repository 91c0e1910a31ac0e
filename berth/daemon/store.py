"""Container metadata in SQLite (table `containers`, migration 200 in berth/db.py).

The name column is UNIQUE, so two concurrent creates asking for one name
cannot both win: the loser gets Docker's 409. Lookups accept a full id, a
name (with or without its leading slash) or an unambiguous id prefix.
"""

from __future__ import annotations

import dataclasses
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


def _copy(c: Container) -> Container:
    return dataclasses.replace(c)


def name_conflict(name: str, other_id: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container '
        f'"{other_id}". You have to remove (or rename) that container to be able to reuse '
        "that name."
    )


class ContainerStore:
    """SQLite is the truth; an in-memory copy of every record answers reads
    (`ps` of hundreds of containers without decoding JSON), updated on each write.
    Callers get copies, so nothing changes a record without saving it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._cache: dict[str, Container] = {
            r["id"]: _row(r) for r in db.execute("SELECT * FROM containers").fetchall()
        }
        self._names: dict[str, str] = {c.name: c.id for c in self._cache.values()}

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
            self._cache[c.id] = _copy(c)
            self._names[c.name] = c.id

    def name_taken(self, name: str) -> str | None:
        with self._lock:
            return self._names.get(name)

    def get(self, ref: str) -> Container:
        if not ref:
            raise NotFound("No such container: ")
        name = ref[1:] if ref.startswith("/") else ref
        with self._lock:
            c = self._cache.get(ref)
            if c is None and name in self._names:
                c = self._cache[self._names[name]]
            if c is None and all(ch in "0123456789abcdef" for ch in ref):
                found = [x for cid, x in self._cache.items() if cid.startswith(ref)]
                if len(found) > 1:
                    raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
                c = found[0] if found else None
            if c is None:
                raise NotFound(f"No such container: {ref}")
            return _copy(c)

    def all(self) -> list[Container]:
        with self._lock:
            items = sorted(self._cache.values(), key=lambda c: c.created, reverse=True)
            return [_copy(c) for c in items]

    def save_state(self, cid: str, state: State) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state.to_json()), cid)
            )
            if cid in self._cache:
                self._cache[cid].state = state

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
            if c.id in self._cache:
                self._cache[c.id] = _copy(c)

    def rename(self, cid: str, new_name: str) -> None:
        with self._lock:
            try:
                self._db.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT id FROM containers WHERE name = ?", (new_name,)
                ).fetchone()
                raise name_conflict(new_name, row["id"] if row else "?") from None
            c = self._cache.get(cid)
            if c is not None:
                self._names.pop(c.name, None)
                c.name = new_name
                self._names[new_name] = cid

    def delete(self, cid: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM containers WHERE id = ?", (cid,))
            c = self._cache.pop(cid, None)
            if c is not None and self._names.get(c.name) == cid:
                del self._names[c.name]

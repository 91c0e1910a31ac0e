"""berth.db: the daemon's metadata file (SQLite, WAL) and its one schema.

Every table berth keeps lives in MIGRATIONS below, in order; a migration is
never edited once it has landed, only followed by a new one. `open_db` applies
the ones the file has not seen yet inside one transaction, so a crash during an
upgrade leaves the previous schema intact. Stores receive an open connection;
none of them opens the file itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# (version, SQL). Append only; each package's tables use their own range of
# versions so that packages can add migrations independently:
#   1-99 core, 100-199 images/storage, 200-299 containers/daemon,
#   300-399 networks, 400-499 volumes, 500-599 build, 600-699 distribution.
MIGRATIONS: list[tuple[int, str]] = [
    (1, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"),
    # 200-299 containers (berth/daemon/store.py)
    (
        200,
        "CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " image TEXT NOT NULL, image_id TEXT NOT NULL, created INTEGER NOT NULL,"
        " runtime TEXT NOT NULL, config TEXT NOT NULL, host_config TEXT NOT NULL,"
        " networking_config TEXT NOT NULL, state TEXT NOT NULL, extra TEXT NOT NULL)",
    ),
    # 100-199 images and storage (berth/image/store.py)
    (
        100,
        "CREATE TABLE images (id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL,"
        " manifest_media_type TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '',"
        " created TEXT NOT NULL, size INTEGER NOT NULL, config TEXT NOT NULL, added REAL NOT NULL);"
        "CREATE TABLE image_tags (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id));"
        "CREATE INDEX image_tags_image ON image_tags(image_id);"
        "CREATE TABLE image_digests (name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id));"
        "CREATE INDEX image_digests_image ON image_digests(image_id);"
        "CREATE TABLE layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, parent TEXT,"
        " size INTEGER NOT NULL);"
        "CREATE TABLE image_layers (image_id TEXT NOT NULL REFERENCES images(id),"
        " position INTEGER NOT NULL, chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
        " PRIMARY KEY (image_id, position));"
        "CREATE INDEX image_layers_chain ON image_layers(chain_id);"
        "CREATE TABLE layer_blobs (diff_id TEXT NOT NULL, digest TEXT NOT NULL,"
        " media_type TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (diff_id, digest));"
        "CREATE TABLE image_blobs (image_id TEXT NOT NULL REFERENCES images(id),"
        " digest TEXT NOT NULL, PRIMARY KEY (image_id, digest))",
    ),
    # 300-399 networks (berth/network/store.py)
    (
        300,
        "CREATE TABLE networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " driver TEXT NOT NULL, created TEXT NOT NULL, config TEXT NOT NULL);"
        "CREATE TABLE network_endpoints (network_id TEXT NOT NULL REFERENCES networks(id),"
        " container_id TEXT NOT NULL, config TEXT NOT NULL, ip TEXT,"
        " PRIMARY KEY (network_id, container_id));"
        "CREATE UNIQUE INDEX network_endpoints_ip ON network_endpoints(network_id, ip);"
        "CREATE TABLE network_ipam (network_id TEXT PRIMARY KEY REFERENCES networks(id), last_ip TEXT);"
        "CREATE TABLE network_sandboxes (container_id TEXT PRIMARY KEY, config TEXT NOT NULL)",
    ),
    # 400-499 volumes (berth/volumes/store.py)
    (
        400,
        "CREATE TABLE volumes (name TEXT PRIMARY KEY, driver TEXT NOT NULL,"
        " created TEXT NOT NULL, config TEXT NOT NULL);"
        "CREATE TABLE volume_refs (volume TEXT NOT NULL REFERENCES volumes(name),"
        " container_id TEXT NOT NULL, PRIMARY KEY (volume, container_id))",
    ),
    (
        401,
        "CREATE TABLE container_mounts (container_id TEXT PRIMARY KEY, mounts TEXT NOT NULL)",
    ),
    # 500-599 build (berth/build/cache.py)
    (
        500,
        "CREATE TABLE build_cache (parent TEXT NOT NULL, key TEXT NOT NULL,"
        " image_id TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (parent, key))",
    ),
    # 600-699 distribution (berth/distribution/sources.py)
    (
        600,
        "CREATE TABLE distribution_sources (digest TEXT NOT NULL, registry TEXT NOT NULL,"
        " repository TEXT NOT NULL, PRIMARY KEY (digest, registry, repository))",
    ),
]


def open_db(path: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the metadata file and bring its schema up to date."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    pending = sorted((v, sql) for v, sql in MIGRATIONS if v not in applied)
    if not pending:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version, sql in pending:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]

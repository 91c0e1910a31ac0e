"""Garbage collection for the registry root: free blobs nothing references.

Mark: every manifest revision of every repository is live, with the config,
layers and child manifests it names. Sweep: a blob that is not live is removed
only if it is older than the grace period, and only while holding the store's
lock exclusively. The registry refreshes a blob's mtime under the shared lock
whenever it makes the blob reachable (upload finished, mount, manifest put), so
a push racing with the collector either finished before the sweep took the
lock, and its blob is fresh, or waits for the sweep and finds its blob gone and
uploads it again (its manifest PUT then sees MANIFEST_BLOB_UNKNOWN, never a
dangling manifest). Repository links to removed blobs and abandoned uploads
older than the grace period are removed too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from berth.distribution.server.names import valid_digest
from berth.distribution.server.store import Store

log = logging.getLogger(__name__)

DEFAULT_GRACE = 3600.0


@dataclass(slots=True)
class GCReport:
    live: int = 0
    removed: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    uploads_removed: int = 0


def collect(root: Path, *, grace: float = DEFAULT_GRACE, dry_run: bool = False) -> GCReport:
    """Remove unreferenced blobs older than `grace` seconds from the registry at `root`."""
    store = Store(Path(root))
    report = GCReport()
    started = time.time()
    live = _mark(store)
    report.live = len(live)
    fd = os.open(store.root / "gc.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        live |= _mark(store)  # manifests put between the first mark and the lock
        for algo_dir in (store.root / "blobs").iterdir():
            for blob in algo_dir.iterdir():
                digest = f"{algo_dir.name}:{blob.name}"
                if digest in live or not valid_digest(digest):
                    continue
                try:
                    st = blob.stat()
                except FileNotFoundError:
                    continue
                if st.st_mtime > started - grace:
                    continue
                report.removed.append(digest)
                report.freed_bytes += st.st_size
                if not dry_run:
                    blob.unlink()
        if not dry_run:
            removed = set(report.removed)
            for name in store.repositories():
                layers = store.repo_path(name) / "_layers"
                for link in layers.glob("*/*") if layers.is_dir() else []:
                    if f"{link.parent.name}:{link.name}" in removed:
                        link.unlink()
    finally:
        os.close(fd)
    for _, d in list(store.stale_uploads()):
        with contextlib.suppress(FileNotFoundError):
            if d.stat().st_mtime < started - grace:
                report.uploads_removed += 1
                if not dry_run:
                    shutil.rmtree(d, ignore_errors=True)
    log.info(
        "registry gc: %d live, removed %d blobs (%d bytes)",
        report.live,
        len(report.removed),
        report.freed_bytes,
    )
    return report


def _mark(store: Store) -> set[str]:
    live: set[str] = set()
    for name in store.repositories():
        for digest in store.revisions(name):
            live.add(digest)
            try:
                doc = json.loads(store.blob_path(digest).read_bytes())
            except (FileNotFoundError, ValueError):
                continue
            for key in ("config", "subject"):
                if isinstance(doc.get(key), dict) and "digest" in doc[key]:
                    live.add(doc[key]["digest"])
            for key in ("layers", "manifests", "blobs"):
                for desc in doc.get(key) or []:
                    if isinstance(desc, dict) and "digest" in desc:
                        live.add(desc["digest"])
    return live

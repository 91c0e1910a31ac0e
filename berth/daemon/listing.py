"""`GET /containers/json`: which containers, in which order, by Docker's filters
(id, name, label, status, ancestor, exited, before, since, health)."""

from __future__ import annotations

import re
from typing import Any

from berth.daemon.state import Status
from berth.daemon.store import Container
from berth.errors import InvalidArgument

KNOWN = {
    "id", "name", "label", "label!", "status", "ancestor", "exited", "before", "since",
    "health", "is-task", "network", "volume", "publish", "expose",
}  # fmt: skip
STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


def label_match(labels: dict[str, str], expr: str) -> bool:
    key, sep, value = expr.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def select(
    containers: list[Container],
    all: bool,
    limit: int,
    filters: dict[str, list[str]],
    images: Any,
) -> list[Container]:
    """Containers newest first, as `docker ps` lists them."""
    for key in filters:
        if key not in KNOWN:
            raise InvalidArgument(f"invalid filter '{key}'")
    for s in filters.get("status", []):
        if s not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={s}'")
    by_ref = {c.id: c for c in containers} | {c.name: c for c in containers}

    def ref(value: str) -> Container:
        c = by_ref.get(value) or by_ref.get(value.lstrip("/"))
        if c is None:
            matches = [x for x in containers if x.id.startswith(value)]
            if len(matches) != 1:
                raise InvalidArgument(f"No such container: {value}")
            c = matches[0]
        return c

    before = [ref(v).created for v in filters.get("before", [])]
    since = [ref(v).created for v in filters.get("since", [])]
    ancestors = set()
    for a in filters.get("ancestor", []):
        try:
            ancestors.add(images.resolve(a).id)
        except Exception:
            ancestors.add(a)
    show_all = all or bool(limit > 0) or bool(before or since) or "status" in filters
    show_all = show_all or "exited" in filters
    out = []
    for c in sorted(containers, key=lambda x: x.created, reverse=True):
        st = c.state.status
        if not show_all and st not in (Status.RUNNING, Status.PAUSED, Status.RESTARTING):
            continue
        if "id" in filters and not any(c.id.startswith(v) for v in filters["id"]):
            continue
        if "name" in filters and not any(re.search(v.lstrip("/"), c.name) for v in filters["name"]):
            continue
        labels = c.config.get("Labels") or {}
        if not all_(label_match(labels, f) for f in filters.get("label", [])):
            continue
        if any(label_match(labels, f) for f in filters.get("label!", [])):
            continue
        if "status" in filters and st.value not in filters["status"]:
            continue
        if "exited" in filters and (
            st != Status.EXITED or str(c.state.exit_code) not in filters["exited"]
        ):
            continue
        if ancestors and c.image_id not in ancestors and c.image not in ancestors:
            continue
        if before and c.created >= min(before):
            continue
        if since and c.created <= max(since):
            continue
        if "health" in filters:
            health = (c.state.health or {}).get("Status", "none")
            if health not in filters["health"]:
                continue
        out.append(c)
        if limit > 0 and len(out) >= limit:
            break
    return out


def all_(items: Any) -> bool:
    return all(items)

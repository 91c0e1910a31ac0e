"""The events service: everything the daemon does, as Docker's event messages.

Producers call `emit(type, action, actor_id, attributes)`. Consumers of
`/events` call `subscribe(since, until, filters)`, which first replays the
recent events kept in a bounded ring buffer, then follows new ones.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict[str, str]
    time_nano: int

    def to_docker(self) -> dict:
        doc: dict = {
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
            "scope": "local",
            "time": self.time_nano // 1_000_000_000,
            "timeNano": self.time_nano,
        }
        if self.type == "container":
            doc["status"] = self.action
            doc["id"] = self.actor_id
            doc["from"] = self.attributes.get("image", "")
        elif self.type == "image":
            doc["status"] = self.action
            doc["id"] = self.actor_id
        return doc

    def matches(self, filters: dict[str, list[str]]) -> bool:
        attrs = self.attributes
        for key, values in filters.items():
            if not values:
                continue
            if key == "type" and self.type not in values:
                return False
            if key in ("event", "action") and not any(
                self.action == v or self.action.split(":")[0] == v for v in values
            ):
                return False
            if key in ("container", "image", "network", "volume"):
                if self.type != key and not (key == "image" and "image" in attrs):
                    return False
                candidates = {self.actor_id, self.actor_id[:12], attrs.get("name", "")}
                if key == "image":
                    candidates.add(attrs.get("image", ""))
                if not any(v in candidates or self.actor_id.startswith(v) for v in values):
                    return False
            if key == "label":
                for v in values:
                    k, _, want = v.partition("=")
                    if k not in attrs or (want and attrs[k] != want):
                        return False
            if key == "scope" and "local" not in values:
                return False
        return True


class EventBus:
    def __init__(self, keep: int = 1024) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Event] = deque(maxlen=keep)
        self._subscribers: list[queue.SimpleQueue[Event | None]] = []

    def emit(
        self, type: str, action: str, actor_id: str, attributes: dict[str, str] | None = None
    ) -> Event:
        event = Event(type, action, actor_id, dict(attributes or {}), time.time_ns())
        with self._lock:
            self._recent.append(event)
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(event)
        return event

    def recent(self) -> list[Event]:
        with self._lock:
            return list(self._recent)

    def subscribe(
        self,
        since_nano: int | None,
        until_nano: int | None,
        filters: dict[str, list[str]],
        poll: float = 1.0,
    ) -> Iterator[Event]:
        """Replay then follow; ends at `until` (or never). Close the iterator to stop."""
        q: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        with self._lock:
            backlog = list(self._recent) if since_nano is not None else []
            self._subscribers.append(q)
        try:
            last = 0
            for event in backlog:
                if event.time_nano < (since_nano or 0):
                    continue
                if until_nano is not None and event.time_nano > until_nano:
                    return
                last = event.time_nano
                if event.matches(filters):
                    yield event
            while True:
                if until_nano is not None and time.time_ns() > until_nano:
                    return
                try:
                    event = q.get(timeout=poll)
                except queue.Empty:
                    yield None  # type: ignore[misc]  # lets the writer notice a gone client
                    continue
                if event is None or event.time_nano <= last:
                    continue
                if until_nano is not None and event.time_nano > until_nano:
                    return
                if event.matches(filters):
                    yield event
        finally:
            with self._lock:
                self._subscribers.remove(q)

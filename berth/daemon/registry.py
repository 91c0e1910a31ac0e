"""The explicit list of the daemon's pluggable services.

Each entry is (name, module). The module exposes
`create(ctx: berth.daemon.registry.ServiceContext) -> object`; the object is
reachable as `daemon.service(name)`, and if it is a
`berth.daemon.hooks.ContainerHook` it takes part in every container's life.
A helper adding an area appends one line here and nothing else. Core
services (events, images, containers, execs) are built by `Daemon` itself,
before these, so a service can use them from the context.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICES: tuple[tuple[str, str], ...] = (
    ("networks", "berth.daemon.networks"),
    ("volumes", "berth.daemon.volumes"),
    ("build", "berth.daemon.build"),
    ("distribution", "berth.daemon.distribution"),
)


@dataclass(frozen=True, slots=True)
class ServiceContext:
    data_root: Path
    exec_root: Path
    db: sqlite3.Connection
    events: Any  # berth.daemon.events.EventBus
    images: Any  # berth.daemon.images.ImageService
    containers: Any  # berth.daemon.containers.ContainerService
    options: Any  # berth.daemon.config.DaemonOptions (read-only)

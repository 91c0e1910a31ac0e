"""The `Daemon`: one object holding berthd's services, built from typed options.

Construction order: metadata (SQLite), events, images, containers, execs, then
every pluggable service listed in `berth.daemon.registry.SERVICES`. `start()`
reconciles with the world (live restore: running shims, exited containers);
`close()` stops background work but never the containers.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from typing import Any

from berth import db as dbmod
from berth.daemon.config import DaemonOptions
from berth.daemon.events import EventBus
from berth.daemon.hooks import ContainerHook
from berth.daemon.registry import SERVICES, ServiceContext
from berth.errors import NotFound

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, options: DaemonOptions) -> None:
        from berth.daemon.containers import ContainerService
        from berth.daemon.execs import ExecService
        from berth.daemon.images import DaemonImages
        from berth.daemon.system import SystemService

        self.options = options
        self.started_at = time.time()
        for d in (options.data_root, options.exec_root):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(options.data_root, 0o710)
        self.db = dbmod.open_db(options.data_root / "berth.db")
        self.events = EventBus()
        self.images = DaemonImages(
            data_root=options.data_root,
            db=self.db,
            events=self.events,
            storage_driver=options.storage_driver,
        )
        self.hooks: list[ContainerHook] = []
        self.containers = ContainerService(
            options=options, db=self.db, events=self.events, images=self.images, hooks=self.hooks
        )
        self.execs = ExecService(containers=self.containers, events=self.events)
        self.images.in_use = self.containers.image_users
        self.system = SystemService(
            options=options, containers=self.containers, images=self.images,
            started_at=self.started_at,
        )  # fmt: skip
        self._services: dict[str, Any] = {}
        ctx = ServiceContext(
            data_root=options.data_root,
            exec_root=options.exec_root,
            db=self.db,
            events=self.events,
            images=self.images,
            containers=self.containers,
            options=options,
        )
        for name, module in SERVICES:
            service = importlib.import_module(module).create(ctx)
            self._services[name] = service
            if isinstance(service, ContainerHook):
                self.hooks.append(service)

    def service(self, name: str) -> Any:
        try:
            return self._services[name]
        except KeyError:
            raise NotFound(f"service {name} is not available in this daemon") from None

    def has_service(self, name: str) -> bool:
        return name in self._services

    def start(self) -> None:
        """Reconcile with running shims and exited containers (live restore)."""
        self.images.recover()
        running = self.containers.restore()
        for hook in self.hooks:
            try:
                hook.restore(running)
            except Exception:
                log.exception("restore of %s failed", type(hook).__name__)
        self.containers.release_restarts()
        self.containers.start_background()

    def close(self) -> None:
        self.containers.close()
        for service in self._services.values():
            close = getattr(service, "close", None)
            if close:
                try:
                    close()
                except Exception:
                    log.exception("closing %s failed", type(service).__name__)
        self.db.close()

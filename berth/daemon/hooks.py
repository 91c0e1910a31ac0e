"""Hook points other services use to take part in a container's life.

The containers service calls every registered hook, in registry order, at
these moments. A service that cares (networks, volumes) subclasses
`ContainerHook` and overrides what it needs; `berth.daemon.daemon.Daemon`
registers every service that is a `ContainerHook`.

- `on_create(info)`: the container was recorded (resolve volumes, reserve
  endpoints). Raising aborts the create, and nothing is left behind.
- `before_start(ctx)`: just before the runtime creates the container. The hook
  fills `ctx`: a network namespace to join (`netns_path`), extra OCI mounts
  (volumes, binds, tmpfs), the text of /etc/hosts and /etc/resolv.conf, env.
  Raising aborts the start (then `after_stop` is called to undo).
- `after_stop(container_id)`: the container's process is gone (exit, kill,
  failed start): tear down the namespace, release ports.
- `on_remove(container_id, remove_volumes)`: the container is being deleted.
- `inspect(container_id, doc)`: add to the inspect document (NetworkSettings,
  Mounts) in place.
- `restore(running)`: at daemon start, the ids of containers still running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class ContainerInfo:
    """What a hook may read about a container (Docker's Config/HostConfig dicts)."""

    id: str
    name: str
    image: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    container_dir: Path
    rootfs: Path
    networking_config: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StartContext:
    info: ContainerInfo
    pid_hint: int | None = None
    # filled in by hooks:
    netns_path: str | None = None
    mounts: list[dict[str, Any]] = field(default_factory=list)  # OCI mount dicts
    hosts: str | None = None
    resolv_conf: str | None = None
    env: list[str] = field(default_factory=list)


class ContainerHook:
    """Base with no-op methods; override the moments you need."""

    def on_create(self, info: ContainerInfo) -> None:
        pass

    def before_start(self, ctx: StartContext) -> None:
        pass

    def after_stop(self, container_id: str) -> None:
        pass

    def on_remove(self, container_id: str, remove_volumes: bool) -> None:
        pass

    def inspect(self, container_id: str, doc: dict[str, Any]) -> None:
        pass

    def restore(self, running: set[str]) -> None:
        pass

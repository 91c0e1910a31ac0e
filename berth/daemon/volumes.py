"""The daemon's volume service: Docker's volume verbs and the container hooks.

It wraps `berth.volumes.manager.VolumeManager`. Routes in berth/api/volumes.py
reach it as `daemon.service("volumes")`. As a `ContainerHook` it resolves a
container's Binds, Mounts, Tmpfs, image VOLUMEs and --volumes-from at create
(errors such as a missing --mount source abort the create), hands the OCI
mounts to each start (`ctx.mounts`, after copy-up into new volumes), fills
"Mounts" in inspect, and releases the volumes at remove (`rm -v` removes the
anonymous ones).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from berth.daemon.hooks import ContainerHook, ContainerInfo, StartContext
from berth.errors import InvalidArgument
from berth.volumes.manager import VolumeManager, inherited_mounts
from berth.volumes.mounts import collect

log = logging.getLogger(__name__)

Emit = Callable[[str, str, dict[str, str]], None]  # (action, volume name, attributes)


def _label_match(labels: dict[str, str], f: str) -> bool:
    key, eq, value = f.partition("=")
    return key in labels and (not eq or labels[key] == value)


class VolumeService(ContainerHook):
    def __init__(self, manager: VolumeManager, emit: Emit | None = None) -> None:
        self.manager = manager
        self._emit = emit or (lambda action, name, attrs: None)
        self.containers = None  # the daemon's container service, for --volumes-from

    # -- verbs of /volumes ----------------------------------------------------

    def create(self, name: str | None, *, driver: str = "local", labels=None, options=None) -> dict:
        vol = self.manager.create(name, driver=driver, labels=labels, options=options)
        self._emit("create", vol.name, {"driver": vol.driver})
        return self.manager.inspect(vol.name)

    def inspect_volume(self, name: str) -> dict:
        return self.manager.inspect(name)

    def list(self, filters: dict[str, list[str]] | None = None) -> list[dict]:
        filters = filters or {}
        for key in filters:
            if key not in ("name", "label", "driver", "dangling"):
                raise InvalidArgument(f"invalid filter '{key}'")
        out = []
        for v in self.manager.list():
            if "name" in filters and not any(f in v["Name"] for f in filters["name"]):
                continue
            if "driver" in filters and v["Driver"] not in filters["driver"]:
                continue
            if "label" in filters and not all(
                _label_match(v["Labels"], f) for f in filters["label"]
            ):
                continue
            if "dangling" in filters:
                want = filters["dangling"][0].lower() in ("1", "true")
                if want != (not self.manager.users(v["Name"])):
                    continue
            out.append(v)
        return out

    def remove(self, name: str, *, force: bool = False) -> None:
        self.manager.remove(name, force=force)
        self._emit("destroy", name, {})

    def prune(self, filters: dict[str, list[str]] | None = None) -> tuple[list[str], int]:
        filters = dict(filters or {})
        all_volumes = (filters.pop("all", ["false"])[0]).lower() in ("1", "true")
        labels = filters.pop("label", [])
        nolabels = filters.pop("label!", [])
        if filters:
            raise InvalidArgument(f"invalid filter '{next(iter(filters))}'")

        def keep(vol) -> bool:
            if labels and not all(_label_match(vol.labels, f) for f in labels):
                return True
            return bool(nolabels) and any(_label_match(vol.labels, f) for f in nolabels)

        names, space = self.manager.prune(all_volumes=all_volumes, keep=keep)
        for n in names:
            self._emit("destroy", n, {})
        return names, space

    # -- container hooks ------------------------------------------------------

    def requests_for(
        self,
        host_config: dict,
        image_volumes: list[str] | None = None,
        volumes_from: list[tuple[list[dict], str]] | None = None,
    ):
        """HostConfig.Binds/Mounts/Tmpfs + image VOLUMEs + --volumes-from -> mount requests.

        `volumes_from` holds, per `--volumes-from` entry, the other container's
        inspect "Mounts" list and the mode after ':' ("", "ro" or "rw").
        """
        inherited = []
        for mounts, mode in volumes_from or []:
            inherited += inherited_mounts(mounts, mode)
        return collect(
            host_config.get("Binds") or [],
            host_config.get("Mounts") or [],
            host_config.get("Tmpfs") or {},
            list(image_volumes or []),
            inherited,
        )

    def on_create(self, info: ContainerInfo) -> None:
        volumes_from = []
        for entry in info.host_config.get("VolumesFrom") or []:
            ref, _, mode = entry.partition(":")
            other = self.containers.get(ref) if self.containers is not None else None
            if other is None:
                raise InvalidArgument(f"--volumes-from {ref}: no container service")
            volumes_from.append((self.manager.inspect_mounts(other.id), mode))
        image_volumes = list((info.config.get("Volumes") or {}).keys())
        self.manager.prepare(
            info.id, self.requests_for(info.host_config, image_volumes, volumes_from)
        )

    def before_start(self, ctx: StartContext) -> None:
        rootfs = ctx.info.rootfs if ctx.info.rootfs and Path(ctx.info.rootfs).is_dir() else None
        ctx.mounts.extend(self.manager.start_mounts(ctx.info.id, rootfs))

    def inspect(self, container_id: str, doc: dict) -> None:
        doc["Mounts"] = self.manager.inspect_mounts(container_id)

    def on_remove(self, container_id: str, remove_volumes: bool = False) -> None:
        for name in self.manager.release(container_id, remove_anonymous=remove_volumes):
            self._emit("destroy", name, {})


def create(ctx) -> VolumeService:
    events = ctx.events

    def emit(action: str, name: str, attrs: dict[str, str]) -> None:
        events.emit("volume", action, name, attrs)

    svc = VolumeService(VolumeManager(ctx.db, Path(ctx.data_root)), emit)
    svc.containers = ctx.containers
    return svc

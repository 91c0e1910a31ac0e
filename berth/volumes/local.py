"""The `local` volume driver: a directory under the data root, or a filesystem mounted there."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

from berth.errors import InternalError, InvalidArgument
from berth.linux.mountinfo import is_mounted
from berth.volumes.driver import VolumeRecord

log = logging.getLogger(__name__)

KNOWN_OPTIONS = ("type", "device", "o", "size")


def _validated_name(name: str) -> str:
    if not name or "/" in name or name in (".", "..") or "\x00" in name:
        raise InvalidArgument(f"invalid volume name {name!r}")
    return name


class LocalDriver:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root  # <data-root>/volumes

    def _dir(self, vol: VolumeRecord) -> Path:
        return self.root / _validated_name(vol.name)

    def mountpoint(self, vol: VolumeRecord) -> Path:
        return self._dir(vol) / "_data"

    def create(self, vol: VolumeRecord) -> Path:
        for key in vol.options:
            if key not in KNOWN_OPTIONS:
                raise InvalidArgument(f"invalid option key: {key!r}")
        if "size" in vol.options and vol.options.get("type") != "tmpfs":
            raise InvalidArgument("quota size requested but no quota support")
        fstype = vol.options.get("type")
        if fstype and fstype != "tmpfs" and not vol.options.get("device"):
            raise InvalidArgument(f"volume {vol.name}: option type={fstype} needs device=")
        mp = self.mountpoint(vol)
        mp.mkdir(parents=True, exist_ok=True)
        os.chmod(self._dir(vol), 0o701)
        return mp

    def remove(self, vol: VolumeRecord) -> None:
        self.unmount(vol)
        d = self._dir(vol)
        if d.exists():
            shutil.rmtree(d)

    def _mount_args(self, vol: VolumeRecord) -> tuple[str, str, str] | None:
        fstype = vol.options.get("type")
        if not fstype:
            return None
        device = vol.options.get("device") or fstype
        data = vol.options.get("o", "")
        if fstype == "tmpfs" and "size" in vol.options:
            data = ",".join(x for x in (data, f"size={vol.options['size']}") if x)
        return device, fstype, data

    def mount(self, vol: VolumeRecord) -> Path:
        mp = self.mountpoint(vol)
        args = self._mount_args(vol)
        if args is None or is_mounted(mp):
            return mp
        from berth.linux.mount import MS_BIND, mount

        device, fstype, data = args
        flags = 0
        opts = []
        for o in data.split(","):
            if o == "bind":
                flags |= MS_BIND
            elif o:
                opts.append(o)
        try:
            mount(device, str(mp), fstype, flags, ",".join(opts) or None)
        except OSError as e:
            raise InternalError(f"error while mounting volume '{mp}': {e}") from e
        return mp

    def unmount(self, vol: VolumeRecord) -> None:
        mp = self.mountpoint(vol)
        if self._mount_args(vol) is None or not is_mounted(mp):
            return
        from berth.linux.mount import MNT_DETACH, umount

        with contextlib.suppress(OSError):
            umount(str(mp), MNT_DETACH)

"""VolumeManager: named and anonymous volumes, and turning mount requests into OCI mounts.

The daemon calls, per container:
  create -> `prepare(container_id, requests)`: volumes are created on demand
            (anonymous ones get their random name once, here), referenced by the
            container so `volume rm` refuses them while used, and the resolved
            mounts are stored;
  start  -> `start_mounts(container_id, rootfs)` -> OCI mount entries; mounts
            tmpfs-backed volumes and fills empty new volumes from the image (copy-up);
  inspect-> `inspect_mounts(container_id)` -> Docker's "Mounts";
  remove -> `release(container_id, remove_anonymous=rm -v)`.
`resolve(...)` does create and start in one call (tests, one-shot tools).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from berth import timestamps
from berth.errors import Conflict, InternalError, InvalidArgument, NotFound
from berth.volumes.copyup import copy_up
from berth.volumes.driver import VolumeRecord
from berth.volumes.local import LocalDriver
from berth.volumes.mounts import MountRequest, check_volume_name
from berth.volumes.store import VolumeStore

log = logging.getLogger(__name__)

ANON_LABEL = "com.docker.volume.anonymous"


@dataclass(frozen=True, slots=True)
class ResolvedMount:
    oci: dict  # an OCI runtime-spec mount entry
    inspect: dict  # an entry of Docker's container inspect "Mounts"
    volume: str | None = None


def _now() -> str:
    return timestamps.now()


class VolumeManager:
    def __init__(self, conn, data_root: Path) -> None:
        self.store = VolumeStore(conn)
        self.drivers = {"local": LocalDriver(data_root / "volumes")}
        self._lock = threading.RLock()

    def _driver(self, name: str) -> LocalDriver:
        try:
            return self.drivers[name]
        except KeyError:
            raise NotFound(
                f'error looking up volume plugin {name}: plugin "{name}" not found'
            ) from None

    # -- volumes --------------------------------------------------------------

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> VolumeRecord:
        """Create a volume; an existing one of the same name and driver is returned (Docker)."""
        anonymous = not name
        name = name or secrets.token_hex(32)
        check_volume_name(name)
        drv = self._driver(driver)
        with self._lock:
            existing = self.store.get(name)
            if existing is not None:
                if existing.driver != driver:
                    raise Conflict(f"volume {name} already exists with driver {existing.driver}")
                return existing
            labels = dict(labels or {})
            if anonymous:
                labels.setdefault(ANON_LABEL, "")
            vol = VolumeRecord(name, driver, labels, dict(options or {}), _now(), anonymous)
            drv.create(vol)
            try:
                self.store.add(vol)
            except BaseException:
                drv.remove(vol)
                raise
            return vol

    def get(self, name: str) -> VolumeRecord:
        vol = self.store.get(name)
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def mountpoint(self, vol: VolumeRecord) -> Path:
        return self._driver(vol.driver).mountpoint(vol)

    def inspect(self, name: str) -> dict:
        vol = self.get(name)
        return vol.as_docker(self.mountpoint(vol))

    def list(self) -> list[dict]:
        return [v.as_docker(self.mountpoint(v)) for v in self.store.all()]

    def users(self, name: str) -> list[str]:
        return self.store.refs(name)

    def remove(self, name: str, *, force: bool = False) -> None:
        with self._lock:
            vol = self.store.get(name)
            if vol is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.store.refs(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._driver(vol.driver).remove(vol)
            self.store.delete(name)

    def prune(self, *, all_volumes: bool = False, keep=lambda vol: False) -> tuple[list[str], int]:
        """Remove unused volumes (only anonymous ones unless `all_volumes`); return names and bytes."""
        removed, space = [], 0
        for vol in self.store.all():
            if (not all_volumes and not vol.anonymous) or keep(vol) or self.store.refs(vol.name):
                continue
            size = _du(self.mountpoint(vol))
            with contextlib.suppress(Conflict, NotFound):
                self.remove(vol.name)
                removed.append(vol.name)
                space += size
        return removed, space

    # -- containers -----------------------------------------------------------

    def resolve(
        self,
        container_id: str,
        requests: list[MountRequest],
        rootfs: Path | None = None,
        *,
        mount: bool = True,
    ) -> list[ResolvedMount]:
        """Turn requests into OCI mounts; create, fill and reference volumes. All or nothing."""
        out: list[ResolvedMount] = []
        created: list[str] = []
        try:
            for req in requests:
                if req.type == "bind":
                    out.append(self._bind(req))
                elif req.type == "tmpfs":
                    out.append(_tmpfs(req))
                else:
                    r, new = self._volume(container_id, req, rootfs, mount)
                    if new:
                        created.append(r.volume)
                    out.append(r)
        except BaseException:
            self.store.drop_refs(container_id)
            for name in created:
                with contextlib.suppress(Exception):
                    self.remove(name)
            raise
        return out

    def prepare(self, container_id: str, requests: list[MountRequest]) -> list[ResolvedMount]:
        """Resolve and record a container's mounts at create (no copy-up yet)."""
        resolved = self.resolve(container_id, requests, None, mount=False)
        nocopy = {r.target for r in requests if r.nocopy}
        self.store.put_mounts(
            container_id,
            [
                {
                    "oci": r.oci,
                    "inspect": r.inspect,
                    "volume": r.volume,
                    "nocopy": r.oci["destination"] in nocopy,
                }
                for r in resolved
            ],
        )
        return resolved

    def start_mounts(self, container_id: str, rootfs: Path | None) -> list[dict]:
        """OCI mounts for a start: mount what needs mounting, copy image content into empty volumes."""
        out = []
        for m in self.store.mounts(container_id) or []:
            if m["volume"]:
                vol = self.get(m["volume"])
                mp = self._driver(vol.driver).mount(vol)
                if rootfs is not None and not m["nocopy"]:
                    _fill(vol.name, rootfs, m["oci"]["destination"], mp)
            out.append(m["oci"])
        return out

    def inspect_mounts(self, container_id: str) -> list[dict]:
        return [m["inspect"] for m in self.store.mounts(container_id) or []]

    def _bind(self, req: MountRequest) -> ResolvedMount:
        src = Path(req.source)
        if not src.exists():
            if not req.create_host_path:
                raise InvalidArgument(
                    f'invalid mount config for type "bind": bind source path does not exist: {src}'
                )
            src.mkdir(parents=True, exist_ok=True)
        opts = ["rbind", req.propagation or "rprivate", "ro" if req.readonly else "rw"]
        return ResolvedMount(
            {"destination": req.target, "type": "bind", "source": str(src), "options": opts},
            {
                "Type": "bind",
                "Source": str(src),
                "Destination": req.target,
                "Mode": req.mode,
                "RW": not req.readonly,
                "Propagation": req.propagation or "rprivate",
            },
        )

    def _volume(
        self, container_id: str, req: MountRequest, rootfs: Path | None, mount: bool
    ) -> tuple[ResolvedMount, bool]:
        with self._lock:
            new = not req.source or self.store.get(req.source) is None
            vol = self.create(
                req.source or None,
                driver=req.volume_driver,
                labels=req.volume_labels,
                options=req.volume_options,
            )
            self.store.add_ref(vol.name, container_id)
        drv = self._driver(vol.driver)
        mp = drv.mount(vol) if mount else drv.mountpoint(vol)
        if mount and rootfs is not None and not req.nocopy:
            _fill(vol.name, rootfs, req.target, mp)
        opts = ["rbind", "rprivate", "ro" if req.readonly else "rw"]
        return (
            ResolvedMount(
                {"destination": req.target, "type": "bind", "source": str(mp), "options": opts},
                {
                    "Type": "volume",
                    "Name": vol.name,
                    "Source": str(mp),
                    "Destination": req.target,
                    "Driver": vol.driver,
                    "Mode": req.mode or ("z" if req.source else ""),
                    "RW": not req.readonly,
                    "Propagation": "",
                },
                vol.name,
            ),
            new,
        )

    def release(self, container_id: str, *, remove_anonymous: bool = False) -> list[str]:
        """Drop the container's references; with `rm -v`, remove its anonymous volumes."""
        with self._lock:
            self.store.delete_mounts(container_id)
            names = self.store.drop_refs(container_id)
            removed = []
            for name in names:
                vol = self.store.get(name)
                if vol is None:
                    continue
                if not self.store.refs(name):
                    self._driver(vol.driver).unmount(vol)
                if remove_anonymous and vol.anonymous and not self.store.refs(name):
                    self.remove(name)
                    removed.append(name)
            return removed


def _fill(name: str, rootfs: Path, target: str, mountpoint: Path) -> None:
    """Copy-up, all or nothing: a half-filled volume would never be filled again."""
    try:
        copy_up(rootfs, target, mountpoint)
    except OSError as e:
        for entry in mountpoint.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        raise InternalError(
            f"volume {name}: copying the image's {target} into it failed: {e}"
        ) from e


def inherited_mounts(inspect_mounts: list[dict], mode: str = "") -> list[MountRequest]:
    """`--volumes-from other[:ro|rw]`: the other container's mounts, as requests."""
    if mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
    out = []
    for m in inspect_mounts:
        ro = (mode == "ro") or (mode == "" and not m.get("RW", True))
        if m.get("Type") == "volume":
            out.append(
                MountRequest("volume", m["Destination"], m["Name"], readonly=ro, nocopy=True)
            )
        elif m.get("Type") == "bind":
            out.append(
                MountRequest(
                    "bind",
                    m["Destination"],
                    m["Source"],
                    readonly=ro,
                    propagation=m.get("Propagation", ""),
                )
            )
    return out


def _tmpfs(req: MountRequest) -> ResolvedMount:
    opts = ["nosuid", "nodev", "noexec", *req.tmpfs_options]
    if req.readonly:
        opts.append("ro")
    return ResolvedMount(
        {"destination": req.target, "type": "tmpfs", "source": "tmpfs", "options": opts},
        {
            "Type": "tmpfs",
            "Source": "",
            "Destination": req.target,
            "Mode": ",".join(req.tmpfs_options),
            "RW": not req.readonly,
            "Propagation": "",
        },
    )


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total

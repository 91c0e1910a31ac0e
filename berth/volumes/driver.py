"""The volume driver interface: the design of berth's volumes in one page.

A **volume** is a named directory managed by berth that outlives containers.
`VolumeRecord` is what is persisted and shown by `volume inspect`; the driver
turns a record into a host path (`mountpoint`) that the OCI spec binds into
the container, and back. The `local` driver (the only one) keeps
`<data-root>/volumes/<name>/_data`; with options (`type`, `device`, `o`) it
mounts that filesystem on `_data` when the first container starts using the
volume and unmounts it after the last one, as Docker's local driver does.

Who uses a volume is the manager's business (references per container, kept in
SQLite), not the driver's: a driver only creates, removes, mounts and unmounts.
Anonymous volumes (from an image's VOLUME or `-v /path`) are ordinary volumes
with a random 64-hex name and the label `com.docker.volume.anonymous`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    name: str
    driver: str = "local"
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    created: str = ""
    anonymous: bool = False

    def as_docker(self, mountpoint: Path) -> dict:
        """Docker's Volume object for inspect and list."""
        return {
            "CreatedAt": self.created,
            "Driver": self.driver,
            "Labels": dict(self.labels),
            "Mountpoint": str(mountpoint),
            "Name": self.name,
            "Options": dict(self.options),
            "Scope": "local",
        }


class VolumeDriver(Protocol):
    name: str

    def create(self, vol: VolumeRecord) -> Path:
        """Make the volume's storage; return its mountpoint. Validates options."""

    def remove(self, vol: VolumeRecord) -> None:
        """Delete the volume's storage (it is unmounted and unused)."""

    def mountpoint(self, vol: VolumeRecord) -> Path:
        """Host path to bind into containers."""

    def mount(self, vol: VolumeRecord) -> Path:
        """Make the mountpoint usable (first user); return it."""

    def unmount(self, vol: VolumeRecord) -> None:
        """Undo mount (last user gone)."""

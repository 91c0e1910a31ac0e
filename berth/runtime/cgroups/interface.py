"""The cgroup manager's interface (the design is in this package's docstring)."""

from __future__ import annotations

from typing import Protocol

from berth.oci.spec import Resources


class Manager(Protocol):
    """One container's cgroup; implemented by v1.Manager and v2.Manager."""

    version: int

    def create(self, resources: Resources | None) -> None: ...

    def update(self, resources: Resources) -> None: ...

    def add(self, pid: int) -> None: ...

    # Whether `join_self` avoids the kernel's slow path for moving a whole process
    # (see v1.Manager.join_self), so that the runtime's child should join itself.
    cheap_self_join: bool

    def join_self(self) -> None:
        """Move the calling process, which must be single-threaded (a freshly
        forked child), into the cgroup."""
        ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def frozen(self) -> bool: ...

    def pids(self) -> list[int]: ...

    def destroy(self) -> None: ...

    def paths(self) -> dict:
        """What `load_manager` needs to rebuild this manager (saved in the state)."""
        ...

    def mount_sources(self) -> dict[str, str]:
        """Hierarchy key ("memory", "cpu,cpuacct"; "" for v2) -> the container's cgroup dir."""
        ...

"""Choosing the cgroup manager once, from what the host mounts."""

from __future__ import annotations


def host_version(hierarchies: list | None = None) -> int:
    """1 when any v1 controller is mounted (pure v1 and hybrid hosts), else 2."""
    if hierarchies is None:
        from berth.runtime.cgroups.mounts import host_hierarchies

        hierarchies = host_hierarchies()
    if any(h.version == 1 and h.controllers for h in hierarchies):
        return 1
    if any(h.version == 2 for h in hierarchies):
        return 2
    raise OSError(2, "no cgroup hierarchy is mounted on this host")


def cgroups_path(spec_path: str | None, container_id: str, version: int = 1) -> str:
    """The spec's cgroupsPath; systemd's "slice:prefix:name" becomes /slice/prefix-name.scope.

    Without one: on v1, the container id under berth-runc's own cgroup; on v2,
    /<id> at the root, because a v2 cgroup that holds processes (as
    berth-runc's own does) cannot give controllers to children.
    """
    if not spec_path:
        return container_id if version == 1 else f"/{container_id}"
    if ":" in spec_path:
        slice_, prefix, name = ([*spec_path.split(":"), "", ""])[:3]
        return f"/{slice_ or 'system.slice'}/{prefix + '-' if prefix else ''}{name or container_id}.scope"
    return spec_path


def open_manager(spec_path: str | None, container_id: str):
    """A new manager for the container's cgroup (not created yet)."""
    from berth.runtime.cgroups.mounts import host_hierarchies

    hierarchies = host_hierarchies()
    version = host_version(hierarchies)
    path = cgroups_path(spec_path, container_id, version)
    if version == 1:
        from berth.runtime.cgroups import v1

        return v1.Manager.for_path(path, hierarchies)
    from berth.runtime.cgroups import v2

    return v2.Manager.for_path(path, hierarchies)


def load_manager(saved: dict):
    """The manager recorded in a container's state."""
    if saved["version"] == 1:
        from berth.runtime.cgroups import v1

        return v1.Manager.from_paths(saved)
    from berth.runtime.cgroups import v2

    return v2.Manager.from_paths(saved)

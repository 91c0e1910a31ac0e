"""A container's state directory under the runtime root: <root>/<id>/.

    state.json   what `create` recorded: pid (and its start time, to detect a
                 reused pid), bundle, rootfs, cgroup paths, the config itself
    exec.fifo    the init blocks opening it for writing until `start` reads it

Writes are atomic (temporary file, then rename). No fsync: the state root
normally lives on tmpfs (/run) and describes processes that a reboot ends
anyway; runc makes the same choice.
"""

from __future__ import annotations

import os

from berth import timestamps
from berth.errors import NotFound
from berth.runtime import jsonc
from berth.runtime.lifecycle import Status
from berth.runtime.paths import check_id

FIFO = "exec.fifo"
STATE = "state.json"
OCI_VERSION = "1.0.2"


class ContainerState:
    """What state.json holds for one container.

    A plain slotted class rather than a dataclass: `state`, `kill`, `start` and
    `delete` need only this, and importing `dataclasses` (with `inspect`) would
    add a third to their run time.
    """

    __slots__ = (
        "annotations",
        "bundle",
        "cgroup",
        "config",
        "created",
        "id",
        "owner",
        "pid",
        "pid_start",
        "rootfs",
        "status",
    )

    def __init__(
        self,
        id: str,
        bundle: str,
        rootfs: str,
        pid: int = 0,
        pid_start: str = "",
        status: str = Status.CREATING.value,
        created: str = "",
        owner: str = "",
        cgroup: dict | None = None,
        annotations: dict | None = None,
        config: dict | None = None,
    ) -> None:
        self.id = id
        self.bundle = bundle
        self.rootfs = rootfs
        self.pid = pid
        self.pid_start = pid_start
        self.status = status
        self.created = created
        self.owner = owner
        self.cgroup = cgroup or {}
        self.annotations = annotations or {}
        self.config = config or {}

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def oci(self, status: Status) -> dict:
        """The runtime-spec state object, as hooks and `state` show it."""
        out = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": status.value,
            "pid": self.pid if status is not Status.STOPPED else 0,
            "bundle": self.bundle,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, check_id(container_id))


def now_rfc3339() -> str:
    return timestamps.now()


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def save(directory: str, state: ContainerState) -> None:
    write_atomic(os.path.join(directory, STATE), jsonc.dumps(state.to_dict()).encode())


def load(root: str, container_id: str) -> ContainerState:
    path = os.path.join(container_dir(root, container_id), STATE)
    try:
        with open(path, "rb") as f:
            return ContainerState(**jsonc.loads(f.read()))
    except FileNotFoundError:
        raise NotFound("container does not exist") from None


def process_start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat ("" if gone or a zombie): a pid plus this is unique."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return ""
    return fields[19]


def alive(state: ContainerState) -> bool:
    return state.pid > 0 and process_start_time(state.pid) == state.pid_start

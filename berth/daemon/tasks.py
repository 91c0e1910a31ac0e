"""The daemon's view of a container's process: a `Tasks` interface, and its
implementation over `berth.shim.client` (one shim per container).

The daemon never holds a container's process. Everything it knows about a
running container comes from its shim, which survives the daemon: after a
restart `connect` finds the shim again, and a container that exited while the
daemon was away has its exit status in the shim's durable record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ExitInfo:
    code: int
    oom_killed: bool = False
    finished_ns: int = 0
    error: str = ""


@dataclass(frozen=True, slots=True)
class SpawnRequest:
    id: str
    bundle: Path
    runtime: str  # path of the OCI runtime executable
    runtime_root: Path
    tty: bool
    stdin_open: bool
    log_path: Path
    log_max_size: int = 0
    log_max_file: int = 1


@dataclass(frozen=True, slots=True)
class ExecHandle:
    pid: int
    stream: Any  # a socket carrying frames, or None for a detached exec


class Tasks(Protocol):
    def spawn(self, req: SpawnRequest) -> int:
        """Start a shim which creates (not starts) the container; the container's pid."""
        ...

    def start(self, cid: str) -> None:
        """Run the created container's process (after pending attaches connected)."""
        ...

    def pids(self, cid: str) -> list[int]:
        """Every process of the container (for top)."""
        ...

    def alive(self, cid: str) -> bool:
        """Whether a shim for `cid` answers (and its container still runs)."""
        ...

    def pid(self, cid: str) -> int: ...

    def wait(self, cid: str) -> ExitInfo:
        """Block until the container exits (or return its durable exit record)."""
        ...

    def exit_record(self, cid: str) -> ExitInfo | None: ...

    def kill(self, cid: str, signum: int, all_processes: bool = False) -> None: ...

    def pause(self, cid: str) -> None: ...

    def resume(self, cid: str) -> None: ...

    def resize(self, cid: str, height: int, width: int) -> None: ...

    def attach(
        self, cid: str, stdin: bool, stdout: bool, stderr: bool, detach_keys: str | None
    ) -> Any:
        """A socket carrying the container's output frames; what is sent to it is stdin."""
        ...

    def exec(
        self, cid: str, exec_id: str, process: dict[str, Any], *, tty: bool, stdin: bool,
        attach: bool, detach_keys: str | None,
    ) -> ExecHandle: ...  # fmt: skip

    def exec_wait(self, cid: str, exec_id: str) -> int | None:
        """Block until the exec ends; its exit code."""
        ...

    def resize_exec(self, cid: str, exec_id: str, height: int, width: int) -> None: ...

    def cleanup(self, cid: str) -> None:
        """Remove the runtime's state and the shim's files after the container ended."""
        ...

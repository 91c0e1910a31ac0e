"""`Tasks` over berth-shim: one shim per container (see berth.shim.client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from berth.daemon.tasks import ExitInfo, SpawnRequest
from berth.errors import Unavailable


class ShimTasks:
    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root

    def _missing(self) -> Unavailable:
        return Unavailable("berth-shim is not available yet")

    def spawn(self, req: SpawnRequest) -> int:
        raise self._missing()

    def alive(self, cid: str) -> bool:
        return False

    def pid(self, cid: str) -> int:
        raise self._missing()

    def wait(self, cid: str) -> ExitInfo:
        raise self._missing()

    def exit_record(self, cid: str) -> ExitInfo | None:
        return None

    def kill(self, cid: str, signum: int, all_processes: bool = False) -> None:
        raise self._missing()

    def pause(self, cid: str) -> None:
        raise self._missing()

    def resume(self, cid: str) -> None:
        raise self._missing()

    def resize(self, cid: str, height: int, width: int) -> None:
        raise self._missing()

    def attach(self, cid: str, stdin: bool, stdout: bool, stderr: bool) -> Any:
        raise self._missing()

    def exec(self, cid: str, exec_id: str, process: dict[str, Any], tty: bool) -> Any:
        raise self._missing()

    def cleanup(self, cid: str) -> None:
        pass

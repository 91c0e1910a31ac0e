"""A container's lifecycle as an explicit state machine.

`transition(state, event)` is the only function that changes a `State`; it
returns a new one or raises `Conflict` naming why the event is refused in the
current status. The containers service persists the result.

    created --start--> running --pause--> paused --unpause--> running
    running/paused --exit--> exited --start--> running
    exited --schedule_restart--> restarting --start--> running
    any --remove--> removing      a failed start leaves created/exited
    any --dead--> dead (removal failed half-way)
"""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass, field
from typing import Any

from berth.errors import Conflict, NotModified


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


class Ev(enum.StrEnum):
    START = "start"
    START_FAILED = "start_failed"
    EXIT = "exit"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SCHEDULE_RESTART = "schedule_restart"
    STOP_REQUESTED = "stop_requested"
    REMOVE = "remove"
    DEAD = "dead"
    HEALTH = "health"


@dataclass(frozen=True, slots=True)
class State:
    status: Status = Status.CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: int = 0  # unix ns
    finished_at: int = 0
    restart_count: int = 0
    manually_stopped: bool = False  # a stop by the user: policies never undo it
    health: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def running(self) -> bool:
        return self.status in (Status.RUNNING, Status.PAUSED)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        d = dict(d)
        d["status"] = Status(d.get("status", "created"))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# status -> events it accepts
_ALLOWED: dict[Status, set[Ev]] = {
    Status.CREATED: {Ev.START, Ev.START_FAILED, Ev.REMOVE, Ev.DEAD, Ev.STOP_REQUESTED},
    Status.RUNNING: {Ev.EXIT, Ev.PAUSE, Ev.STOP_REQUESTED, Ev.DEAD, Ev.HEALTH},
    Status.PAUSED: {Ev.EXIT, Ev.UNPAUSE, Ev.STOP_REQUESTED, Ev.DEAD, Ev.HEALTH},
    Status.RESTARTING: {Ev.START, Ev.START_FAILED, Ev.EXIT, Ev.STOP_REQUESTED, Ev.REMOVE, Ev.DEAD},
    Status.EXITED: {
        Ev.START,
        Ev.START_FAILED,
        Ev.SCHEDULE_RESTART,
        Ev.REMOVE,
        Ev.DEAD,
        Ev.STOP_REQUESTED,
        Ev.EXIT,
    },
    Status.REMOVING: {Ev.DEAD, Ev.EXIT},
    Status.DEAD: {Ev.REMOVE, Ev.DEAD},
}


def refuse(name: str, state: State, event: Ev) -> Exception:
    """The error Docker gives for `event` in `state`."""
    s = state.status
    if event == Ev.START and s in (Status.RUNNING, Status.PAUSED):
        if s == Status.PAUSED:
            return Conflict(f"cannot start a paused container {name}, try unpause instead")
        return NotModified(f"container {name} is already started")
    if event == Ev.PAUSE:
        if s == Status.PAUSED:
            return Conflict(f"Container {name} is already paused")
        return Conflict(f"Container {name} is not running")
    if event == Ev.UNPAUSE:
        return Conflict(f"Container {name} is not paused")
    if event == Ev.REMOVE and s in (Status.RUNNING, Status.PAUSED):
        return Conflict(
            f"You cannot remove a running container {name}. "
            "Stop the container before attempting removal or force remove"
        )
    if event == Ev.REMOVE and s == Status.REMOVING:
        return Conflict(f"removal of container {name} is already in progress")
    if s == Status.REMOVING:
        return Conflict(f"container {name} is marked for removal and cannot be started")
    if s == Status.DEAD:
        return Conflict(f"container {name} is dead")
    return Conflict(f"Container {name} is {s.value}: cannot {event.value}")


def check(name: str, state: State, event: Ev) -> None:
    """Raise what `transition` would raise, without changing anything."""
    if event not in _ALLOWED[state.status]:
        raise refuse(name, state, event)


def transition(
    name: str, state: State, event: Ev, *, pid: int = 0, exit_code: int = 0,
    error: str = "", oom_killed: bool = False, manual: bool = False,
    now_ns: int | None = None, health: dict[str, Any] | None = None,
) -> State:  # fmt: skip
    """The one place a container's state changes."""
    if event not in _ALLOWED[state.status]:
        raise refuse(name, state, event)
    now = now_ns if now_ns is not None else time.time_ns()
    r = dataclasses.replace
    if event == Ev.START:
        return r(
            state, status=Status.RUNNING, pid=pid, started_at=now, error="", exit_code=0,
            oom_killed=False, manually_stopped=False,
        )  # fmt: skip
    if event == Ev.START_FAILED:
        return r(
            state, status=Status.EXITED if state.started_at else Status.CREATED, pid=0,
            error=error, exit_code=exit_code or 128,
        )  # fmt: skip
    if event == Ev.EXIT:
        if state.status in (Status.EXITED, Status.REMOVING):
            return r(state, pid=0, exit_code=exit_code, oom_killed=oom_killed)
        return r(
            state, status=Status.EXITED, pid=0, exit_code=exit_code, finished_at=now,
            oom_killed=oom_killed, health=_health_stopped(state.health), error=error,
        )  # fmt: skip
    if event == Ev.PAUSE:
        return r(state, status=Status.PAUSED)
    if event == Ev.UNPAUSE:
        return r(state, status=Status.RUNNING)
    if event == Ev.SCHEDULE_RESTART:
        return r(state, status=Status.RESTARTING, restart_count=state.restart_count + 1)
    if event == Ev.STOP_REQUESTED:
        if state.status == Status.RESTARTING:
            return r(state, status=Status.EXITED, manually_stopped=True)
        return r(state, manually_stopped=manual or state.manually_stopped)
    if event == Ev.REMOVE:
        return r(state, status=Status.REMOVING)
    if event == Ev.HEALTH:
        return r(state, health=health)
    return r(state, status=Status.DEAD, pid=0)


def _health_stopped(health: dict[str, Any] | None) -> dict[str, Any] | None:
    if health is None:
        return None
    return {**health, "Status": "unhealthy" if health.get("Status") == "unhealthy" else "starting"}


def docker_state(state: State, rfc3339) -> dict[str, Any]:
    """The inspect document's State object."""
    doc = {
        "Status": state.status.value,
        "Running": state.status in (Status.RUNNING, Status.PAUSED, Status.RESTARTING),
        "Paused": state.status == Status.PAUSED,
        "Restarting": state.status == Status.RESTARTING,
        "OOMKilled": state.oom_killed,
        "Dead": state.status == Status.DEAD,
        "Pid": state.pid,
        "ExitCode": state.exit_code,
        "Error": state.error,
        "StartedAt": rfc3339(state.started_at),
        "FinishedAt": rfc3339(state.finished_at),
    }
    if state.health is not None:
        doc["Health"] = state.health
    return doc

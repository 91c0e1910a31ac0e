"""The container's status as an explicit state machine.

The runtime-spec names five statuses. berth-runc records only the ones it
decides (`creating` while `create` runs, `created` when it returns); the others
follow from the kernel and are observed, never stored: the exec fifo is gone
once `start` released the init (`running`), the freezer says `paused`, and a
dead (or reused) init pid means `stopped`. `observe` is the one place that
turns those facts into a status; `require` is the one place that says which
operations a status allows, with runc's wording for the refusals.
"""

from __future__ import annotations

import enum

from berth.errors import Conflict


class Status(enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class Op(enum.Enum):
    START = "start"
    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    EXEC = "exec"
    DELETE = "delete"
    FORCE_DELETE = "delete --force"


_ALL = frozenset(Status)
ALLOWED = {
    Op.START: frozenset({Status.CREATED}),
    Op.KILL: frozenset({Status.CREATED, Status.RUNNING, Status.PAUSED}),
    Op.PAUSE: frozenset({Status.RUNNING, Status.CREATED}),
    Op.RESUME: frozenset({Status.PAUSED}),
    Op.EXEC: frozenset({Status.CREATED, Status.RUNNING}),
    Op.DELETE: frozenset({Status.STOPPED, Status.CREATED, Status.CREATING}),
    Op.FORCE_DELETE: _ALL,
}


def _refusal(op: Op, status: Status, container_id: str) -> str:
    if op is Op.START:
        if status is Status.STOPPED:
            return "cannot start a container that has stopped"
        return f"cannot start an already {status.value} container"
    if op is Op.DELETE:
        return f"cannot delete container {container_id} that is not stopped: {status.value}"
    if op is Op.RESUME:
        return "container not paused"
    if op is Op.EXEC:
        return f"cannot exec in a {status.value} container"
    return "container not running"


def require(op: Op, status: Status, container_id: str) -> None:
    """Raise Conflict (with runc's message) unless `op` is allowed in `status`."""
    if status not in ALLOWED[op]:
        raise Conflict(_refusal(op, status, container_id))


def observe(recorded: Status, alive: bool, fifo_exists: bool, frozen: bool) -> Status:
    """The status now, from what was recorded and what the kernel shows."""
    if not alive:
        return Status.STOPPED
    if recorded is Status.CREATING:
        return Status.CREATING
    if frozen:
        return Status.PAUSED
    if fifo_exists:
        return Status.CREATED
    return Status.RUNNING

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

from berth.errors import Conflict


class _Members(type):
    """What berth needs of enum.Enum, without importing `enum` (with `re`-sized
    dependencies, a tenth of berth-runc's start-up): the members are the
    instances named in the class body's `_values`; iterating the class yields
    them, and calling it with a value returns the member (ValueError otherwise)."""

    def __new__(mcls, name: str, bases: tuple, namespace: dict):
        cls = super().__new__(mcls, name, bases, namespace)
        cls._members = {}
        for attr, value in namespace.get("_values", {}).items():
            member = object.__new__(cls)
            member.name, member.value = attr, value
            cls._members[value] = member
            setattr(cls, attr, member)
        return cls

    def __call__(cls, value: str):
        try:
            return cls._members[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

    def __iter__(cls):
        return iter(cls._members.values())

    def __len__(cls) -> int:
        return len(cls._members)


class _Member(metaclass=_Members):
    __slots__ = ("name", "value")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"


class Status(_Member):
    """The runtime-spec's statuses; `.value` is the word the state JSON shows."""

    CREATING: Status
    CREATED: Status
    RUNNING: Status
    PAUSED: Status
    STOPPED: Status
    _values = {
        "CREATING": "creating",
        "CREATED": "created",
        "RUNNING": "running",
        "PAUSED": "paused",
        "STOPPED": "stopped",
    }


class Op(_Member):
    """The operations whose permission depends on the status."""

    START: Op
    KILL: Op
    PAUSE: Op
    RESUME: Op
    EXEC: Op
    DELETE: Op
    FORCE_DELETE: Op
    _values = {
        "START": "start",
        "KILL": "kill",
        "PAUSE": "pause",
        "RESUME": "resume",
        "EXEC": "exec",
        "DELETE": "delete",
        "FORCE_DELETE": "delete --force",
    }


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

"""The status state machine: what each status allows, and what is observed."""

from __future__ import annotations

import pytest

from berth.errors import Conflict
from berth.runtime.lifecycle import ALLOWED, Op, Status, observe, require


def test_observe():
    assert observe(Status.CREATED, alive=False, fifo_exists=True, frozen=False) is Status.STOPPED
    assert observe(Status.CREATING, alive=True, fifo_exists=True, frozen=False) is Status.CREATING
    assert observe(Status.CREATED, alive=True, fifo_exists=True, frozen=False) is Status.CREATED
    assert observe(Status.CREATED, alive=True, fifo_exists=False, frozen=False) is Status.RUNNING
    assert observe(Status.CREATED, alive=True, fifo_exists=False, frozen=True) is Status.PAUSED


@pytest.mark.parametrize(
    ("op", "status", "message"),
    [
        (Op.START, Status.RUNNING, "cannot start an already running container"),
        (Op.START, Status.STOPPED, "cannot start a container that has stopped"),
        (Op.DELETE, Status.RUNNING, "cannot delete container c1 that is not stopped: running"),
        (Op.DELETE, Status.PAUSED, "cannot delete container c1 that is not stopped: paused"),
        (Op.KILL, Status.STOPPED, "container not running"),
        (Op.PAUSE, Status.STOPPED, "container not running"),
        (Op.RESUME, Status.RUNNING, "container not paused"),
        (Op.EXEC, Status.STOPPED, "cannot exec in a stopped container"),
        (Op.EXEC, Status.PAUSED, "cannot exec in a paused container"),
    ],
)
def test_refusals_use_runcs_words(op: Op, status: Status, message: str):
    with pytest.raises(Conflict) as err:
        require(op, status, "c1")
    assert str(err.value) == message


def test_allowed_transitions():
    require(Op.START, Status.CREATED, "c1")
    require(Op.DELETE, Status.CREATED, "c1")
    for status in Status:
        require(Op.FORCE_DELETE, status, "c1")
    assert set(ALLOWED) == set(Op)

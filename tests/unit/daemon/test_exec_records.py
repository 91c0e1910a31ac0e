"""The daemon's exec records: an exited exec stays inspectable for a while, then
is forgotten (as dockerd's exec GC), so frequent execs do not grow the daemon."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from berth.daemon.events import EventBus
from berth.daemon.execs import EXITED_KEEP_SECONDS, ExecService
from berth.daemon.state import Status
from berth.errors import NotFound


class OneContainer:
    """Just enough of the container service for exec records: one running container."""

    def __init__(self) -> None:
        self.c = SimpleNamespace(id="c" * 64, state=SimpleNamespace(status=Status.RUNNING))
        self.emitted: list[str] = []

    def get(self, ref: str):
        if ref != self.c.id:
            raise NotFound(f"No such container: {ref}")
        return self.c

    def _emit(self, c, action: str, **extra: str) -> None:
        self.emitted.append(action)


@pytest.fixture
def service() -> ExecService:
    return ExecService(containers=OneContainer(), events=EventBus())


def make(service: ExecService) -> str:
    return service.create("c" * 64, {"Cmd": ["true"]})


def test_exited_execs_are_forgotten_after_the_keep_time(service):
    old, recent, running, never_started = (make(service) for _ in range(4))
    service.finished(service.get(old), 3)
    service.finished(service.get(recent), 4)
    service.get(running).running = True
    service.get(old).exited_at = time.monotonic() - EXITED_KEEP_SECONDS - 1

    assert service.inspect(old)["ExitCode"] == 3  # kept until the next create
    make(service)

    with pytest.raises(NotFound):
        service.get(old)
    assert service.inspect(recent)["ExitCode"] == 4
    assert service.inspect(running)["Running"] is True
    assert service.inspect(never_started)["ExitCode"] is None


def test_finished_records_the_exit(service):
    e = service.get(make(service))
    before = time.monotonic()
    service.finished(e, 7)
    assert (e.running, e.exit_code) == (False, 7) and e.exited_at >= before
    assert e.done.is_set()
    assert service.containers.emitted[-1] == "exec_die"

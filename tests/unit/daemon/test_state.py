import pytest

from berth.daemon.state import Ev, State, Status, check, docker_state, transition
from berth.daemon.timefmt import rfc3339_nano
from berth.errors import Conflict, NotModified


def test_start_exit_restart_cycle():
    s = transition("web", State(), Ev.START, pid=42, now_ns=10)
    assert s.status == Status.RUNNING and s.pid == 42 and s.started_at == 10
    s = transition("web", s, Ev.EXIT, exit_code=3, now_ns=20)
    assert s.status == Status.EXITED and s.exit_code == 3 and s.pid == 0 and s.finished_at == 20
    s = transition("web", s, Ev.SCHEDULE_RESTART)
    assert s.status == Status.RESTARTING and s.restart_count == 1
    s = transition("web", s, Ev.START, pid=43)
    assert s.status == Status.RUNNING and s.restart_count == 1 and s.exit_code == 0


def test_start_of_running_is_not_modified():
    s = transition("web", State(), Ev.START, pid=1)
    with pytest.raises(NotModified):
        check("web", s, Ev.START)


def test_remove_running_is_conflict_with_dockers_words():
    s = transition("web", State(), Ev.START, pid=1)
    with pytest.raises(Conflict, match="You cannot remove a running container web"):
        transition("web", s, Ev.REMOVE)


def test_pause_rules():
    s = transition("web", State(), Ev.START, pid=1)
    with pytest.raises(Conflict, match="not paused"):
        transition("web", s, Ev.UNPAUSE)
    s = transition("web", s, Ev.PAUSE)
    with pytest.raises(Conflict, match="already paused"):
        transition("web", s, Ev.PAUSE)
    with pytest.raises(Conflict, match="paused"):
        check("web", s, Ev.START)
    assert transition("web", s, Ev.UNPAUSE).status == Status.RUNNING


def test_pause_of_created_is_refused():
    with pytest.raises(Conflict, match="is not running"):
        transition("web", State(), Ev.PAUSE)


def test_failed_start_keeps_created_and_records_error():
    s = transition("web", State(), Ev.START_FAILED, error="exec: nope")
    assert s.status == Status.CREATED and s.error == "exec: nope" and s.exit_code == 128


def test_manual_stop_is_remembered_until_next_start():
    s = transition("web", State(), Ev.START, pid=1)
    s = transition("web", s, Ev.STOP_REQUESTED, manual=True)
    assert s.manually_stopped
    s = transition("web", transition("web", s, Ev.EXIT, exit_code=0), Ev.START, pid=2)
    assert not s.manually_stopped


def test_state_round_trips_json_and_renders_dockers_shape():
    s = transition("web", State(), Ev.START, pid=7, now_ns=1_700_000_000_123_000_000)
    assert State.from_json(s.to_json()) == s
    doc = docker_state(s, rfc3339_nano)
    assert doc["Status"] == "running" and doc["Running"] and not doc["Paused"]
    assert doc["StartedAt"] == "2023-11-14T22:13:20.123Z"
    assert doc["FinishedAt"] == "0001-01-01T00:00:00Z"

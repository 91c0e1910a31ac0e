import json
import time

import pytest

from berth.daemon.events import EventBus
from berth.daemon.logs import read
from berth.daemon.state import State
from berth.daemon.store import Container, ContainerStore
from berth.daemon.timefmt import parse_time_nano, rfc3339_nano
from berth.db import open_db
from berth.errors import Conflict, InvalidArgument, NotFound


def _c(cid: str, name: str) -> Container:
    return Container(cid, name, "busybox", "sha256:x", time.time_ns(), "runc", {}, {}, {}, State())


def test_store_lookup_and_name_conflict():
    store = ContainerStore(open_db(":memory:"))
    a, b = "a" * 63 + "1", "a" * 63 + "2"
    store.insert(_c(a, "web"))
    store.insert(_c(b, "db"))
    assert store.get("web").id == a and store.get("/db").id == b
    assert store.get(a[:63] + "1").name == "web"
    with pytest.raises(InvalidArgument, match="multiple IDs"):
        store.get("aaaa")
    with pytest.raises(NotFound, match="No such container: nope"):
        store.get("nope")
    with pytest.raises(
        Conflict, match=f'The container name "/web" is already in use by container "{a}"'
    ):
        store.insert(_c("b" * 64, "web"))
    with pytest.raises(Conflict):
        store.rename(b, "web")
    store.rename(b, "db2")
    assert store.get("db2").id == b


def test_events_replay_and_filters():
    bus = EventBus()
    t0 = time.time_ns()
    bus.emit("container", "create", "c1", {"name": "web", "image": "busybox"})
    bus.emit("image", "tag", "sha256:x", {"name": "busybox:1"})
    bus.emit("container", "start", "c1", {"name": "web", "image": "busybox"})
    stream = bus.subscribe(t0, time.time_ns(), {"type": ["container"], "event": ["start"]})
    got = [e for e in stream if e is not None]
    assert [(e.type, e.action) for e in got] == [("container", "start")]
    doc = got[0].to_docker()
    assert doc["status"] == "start" and doc["Actor"]["Attributes"]["name"] == "web"
    stream = bus.subscribe(t0, time.time_ns(), {"container": ["web"]})
    assert len([e for e in stream if e is not None]) == 2


def test_time_parsing():
    assert parse_time_nano("1700000000.5") == 1_700_000_000_500_000_000
    assert parse_time_nano("2023-11-14T22:13:20.123Z") == 1_700_000_000_123_000_000
    assert parse_time_nano("10m", now_ns=10**12) == 10**12 - 600 * 10**9
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    with pytest.raises(InvalidArgument):
        parse_time_nano("yesterday")


def test_log_reading(tmp_path):
    log = tmp_path / "c-json.log"
    lines = [
        {"log": "one\n", "stream": "stdout", "time": "2023-11-14T22:13:20.000000001Z"},
        {"log": "err\n", "stream": "stderr", "time": "2023-11-14T22:13:21Z"},
        {"log": "two\n", "stream": "stdout", "time": "2023-11-14T22:13:22Z"},
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    kw = dict(follow=False, since=None, until=None, timestamps=False, running=lambda: False)
    out = b"".join(read(log, tail=-1, stdout=True, stderr=True, multiplex=False, **kw))
    assert out == b"one\nerr\ntwo\n"
    out = b"".join(read(log, tail=1, stdout=True, stderr=False, multiplex=False, **kw))
    assert out == b"two\n"
    frames = list(read(log, tail=-1, stdout=False, stderr=True, multiplex=True, **kw))
    assert frames == [b"\x02\x00\x00\x00\x00\x00\x00\x04err\n"]
    kw["since"] = parse_time_nano("2023-11-14T22:13:21Z")
    out = b"".join(read(log, tail=-1, stdout=True, stderr=True, multiplex=False, **kw))
    assert out == b"err\ntwo\n"

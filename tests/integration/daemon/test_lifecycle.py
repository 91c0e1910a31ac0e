"""Restart policies, stop semantics, live restore, events, load: through the API."""

from __future__ import annotations

import concurrent.futures
import json
import time
import urllib.parse
import uuid

import pytest

from tests.support.poll import poll


def _name(prefix: str = "lc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create(d, cmd, name=None, **hc):
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none", **hc}}
    status, resp = d.request("POST", f"/containers/create?name={name or _name()}", body)
    assert status == 201, resp
    return resp["Id"]


def _state(d, cid):
    status, doc = d.request("GET", f"/containers/{cid}/json")
    assert status == 200, doc
    return doc


def test_on_failure_restarts_up_to_max(berthd):
    cid = _create(
        berthd, ["sh", "-c", "exit 3"], RestartPolicy={"Name": "on-failure", "MaximumRetryCount": 2}
    )
    assert berthd.request("POST", f"/containers/{cid}/start")[0] == 204
    doc = poll(
        lambda: (
            (d := _state(berthd, cid))["RestartCount"] == 2
            and d["State"]["Status"] == "exited"
            and d
        )
    )
    assert doc, _state(berthd, cid)
    assert doc["State"]["ExitCode"] == 3
    berthd.request("DELETE", f"/containers/{cid}?force=1")


def test_always_restarts_but_manual_stop_wins(berthd):
    cid = _create(berthd, ["sh", "-c", "sleep 0.2"], RestartPolicy={"Name": "always"})
    berthd.request("POST", f"/containers/{cid}/start")
    assert poll(lambda: _state(berthd, cid)["RestartCount"] >= 2)
    assert berthd.request("POST", f"/containers/{cid}/stop?t=1")[0] in (204, 304)
    doc = poll(lambda: (d := _state(berthd, cid))["State"]["Status"] == "exited" and d)
    count = doc["RestartCount"]
    # watch the events for longer than the back-off (at most 0.8 s here): no start
    since = time.time()
    flt = urllib.parse.quote(json.dumps({"container": [cid], "event": ["start"]}))
    status, raw = berthd.request(
        "GET", f"/events?since={since}&until={since + 1.0}&filters={flt}", decode=False
    )
    assert status == 200 and not raw.strip(), raw
    assert _state(berthd, cid)["State"]["Status"] == "exited"
    assert _state(berthd, cid)["RestartCount"] == count
    berthd.request("DELETE", f"/containers/{cid}?force=1")


def test_stop_timeout_kills_a_shell_ignoring_sigterm(berthd):
    cid = _create(berthd, ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"])
    berthd.request("POST", f"/containers/{cid}/start")
    t0 = time.monotonic()
    assert berthd.request("POST", f"/containers/{cid}/stop?t=1")[0] == 204
    assert time.monotonic() - t0 >= 1.0
    assert _state(berthd, cid)["State"]["ExitCode"] == 137
    berthd.request("DELETE", f"/containers/{cid}")


def test_events_stream(berthd):
    got: list[dict] = []
    since = time.time()
    cid = _create(berthd, ["true"])
    berthd.request("POST", f"/containers/{cid}/start")
    poll(lambda: _state(berthd, cid)["State"]["Status"] == "exited")
    until = time.time() + 0.1
    status, raw = berthd.request(
        "GET",
        f"/events?since={since}&until={until}&filters="
        + urllib.parse.quote(json.dumps({"container": [cid]})),
    )
    assert status == 200
    lines = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
    for line in lines.splitlines():
        if line.strip():
            got.append(json.loads(line))
    actions = [e["Action"] for e in got]
    assert actions[:3] == ["create", "start", "die"], actions
    assert got[2]["Actor"]["Attributes"]["exitCode"] == "0"
    berthd.request("DELETE", f"/containers/{cid}")


def test_live_restore_after_kill9(berthd):
    running = _create(
        berthd, ["sh", "-c", "echo before; while true; do sleep 0.1; done"], name=_name("live")
    )
    script = "while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 42"
    exits = _create(berthd, ["sh", "-c", script], name=_name("exits"))
    berthd.request("POST", f"/containers/{running}/start")
    berthd.request("POST", f"/containers/{exits}/start")
    pid = _state(berthd, running)["State"]["Pid"]
    berthd.kill9()
    assert berthd.shims()
    # while the daemon is away, one container exits with 42
    (berthd.data_root / "containers" / exits / "rootfs" / "tmp" / "go").write_text("")
    assert poll(lambda: not _alive_cmd(script))
    berthd.start()
    doc = _state(berthd, running)
    assert doc["State"]["Status"] == "running" and doc["State"]["Pid"] == pid
    doc = poll(lambda: (d := _state(berthd, exits))["State"]["Status"] == "exited" and d)
    assert doc and doc["State"]["ExitCode"] == 42
    res = berthd.docker("exec", running, "echo", "still-here")
    assert res.stdout == "still-here\n"
    assert "before" in berthd.docker("logs", running).stdout
    assert berthd.request("POST", f"/containers/{running}/stop?t=1")[0] == 204
    assert berthd.request("DELETE", f"/containers/{running}")[0] == 204
    assert berthd.request("DELETE", f"/containers/{exits}")[0] == 204


@pytest.mark.slow
def test_fifty_concurrent_run_d(berthd):
    def run(i: int) -> str:
        res = berthd.docker("run", "-d", "--network", "none", "busybox", "sleep", "60")
        return res.stdout.strip()

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        ids = list(pool.map(run, range(50)))
    assert len(set(ids)) == 50
    docs = [d for d in berthd.request("GET", "/containers/json")[1] if d["Id"] in ids]
    names = {d["Names"][0] for d in docs}
    assert len(docs) == 50 and len(names) == 50
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(
            pool.map(lambda c: berthd.request("DELETE", f"/containers/{c}?force=1")[0], ids)
        )
    assert codes == [204] * 50
    assert poll(lambda: not any((berthd.exec_root / "shims" / c).exists() for c in ids))


def _alive_cmd(script: str) -> bool:
    import os

    want = b"sh\x00-c\x00" + script.encode() + b"\x00"
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/cmdline", "rb") as f:
                    if f.read() == want:
                        return True
            except OSError:
                pass
    return False


def test_shim_killed_by_hand(berthd):
    cid = _create(berthd, ["sleep", "300"])
    berthd.request("POST", f"/containers/{cid}/start")
    pid = _state(berthd, cid)["State"]["Pid"]
    shim_pid = int((berthd.exec_root / "shims" / cid / "shim.pid").read_text())
    import os
    import signal

    os.kill(shim_pid, signal.SIGKILL)
    doc = poll(lambda: (d := _state(berthd, cid))["State"]["Status"] == "exited" and d)
    assert doc, _state(berthd, cid)
    assert doc["State"]["ExitCode"] == 137 and "shim died" in doc["State"]["Error"]
    assert poll(lambda: not os.path.exists(f"/proc/{pid}/stat") or _zombie(pid))
    assert berthd.request("DELETE", f"/containers/{cid}")[0] == 204


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X")

"""Resource limits through docker-py and berth's CLI: OOM kill, pids, cpus,
stats, update; impossible limits refused with Docker's 400s, nothing created."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import docker
import pytest

from tests.support.dockerd import private_dockerd

from .conftest import LABEL, cgroups_of, poll

V1 = (
    Path("/sys/fs/cgroup/memory").is_dir()
    and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
)


@pytest.fixture
def client(engine):
    c = docker.DockerClient(base_url=engine.host, timeout=60)
    try:
        yield c
    finally:
        c.close()


def _cg(cid: str, controller: str, name: str) -> str:
    path = Path("/sys/fs/cgroup") / controller / "berth" / cid / name
    if not V1:
        path = Path("/sys/fs/cgroup/berth") / cid / name
    return path.read_text().strip()


def _run(client, engine, cmd, **kw):
    name = f"rs-res-{os.urandom(4).hex()}"
    engine.made.append(name)
    return client.containers.run(
        "busybox", cmd, name=name, detach=True, network_mode="none", labels={LABEL: ""}, **kw
    )


def test_memory_limit_oom_kill(client, engine):
    since = time.time()
    c = _run(
        client, engine, ["sh", "-c", "x=a; while :; do x=$x$x$x$x; done"],
        mem_limit="16m", memswap_limit="16m",
    )  # fmt: skip
    res = c.wait(timeout=60)
    assert res["StatusCode"] == 137
    c.reload()
    assert c.attrs["State"]["OOMKilled"] is True
    assert c.attrs["State"]["ExitCode"] == 137
    assert c.attrs["HostConfig"]["Memory"] == 16 * 1024 * 1024
    filters = quote(json.dumps({"container": [c.id], "event": ["oom"]}))
    _, raw = engine.request("GET", f"/events?since={since}&until={time.time()}&filters={filters}")
    assert '"oom"' in (raw.decode() if isinstance(raw, bytes) else json.dumps(raw))
    # a container that exits by itself is not OOMKilled
    ok = _run(client, engine, ["true"], mem_limit="16m")
    assert ok.wait(timeout=30)["StatusCode"] == 0
    ok.reload()
    assert ok.attrs["State"]["OOMKilled"] is False


def test_pids_limit(client, engine):
    # the inner shell forks until the limit stops it; PID 1 goes on without forking
    inner = "for i in $(seq 40); do sleep 300 & done"
    script = f"sh -c '{inner}'; echo spawned; exec sleep 300"
    c = _run(client, engine, ["sh", "-c", script], pids_limit=12)
    assert _cg(c.id, "pids", "pids.max") == "12"
    assert poll(lambda: "spawned" in c.logs().decode(), 30), c.logs()
    current = int(_cg(c.id, "pids", "pids.current"))
    assert 2 <= current <= 12
    assert b"can't fork" in c.logs(stderr=True)
    c.reload()
    assert c.status == "running"
    assert int(c.stats(stream=False, one_shot=True)["pids_stats"]["current"]) == current
    c.remove(force=True)


def test_cpus_quota_throttles(client, engine):
    c = _run(client, engine, ["sh", "-c", "while :; do :; done"], nano_cpus=500_000_000)
    assert _cg(c.id, "cpu", "cpu.cfs_quota_us" if V1 else "cpu.max").split()[0] == "50000"

    def throttled() -> bool:
        text = _cg(c.id, "cpu", "cpu.stat")
        stat = dict(line.split() for line in text.splitlines())
        return int(stat.get("nr_throttled", 0)) > 0

    assert poll(throttled, 20)
    data = c.stats(stream=False, one_shot=True)["cpu_stats"]["throttling_data"]
    assert data["periods"] >= data["throttled_periods"] > 0 and data["throttled_time"] > 0
    c.remove(force=True)


def test_stats_no_stream_numbers(engine, client):
    c = _run(client, engine, ["sh", "-c", "while :; do :; done"], mem_limit="64m", pids_limit=50)
    res = engine.cli("stats", "--no-stream", "--format", "{{json .}}", c.id)
    row = json.loads(res.stdout)
    assert row["ID"] == c.id[:12]
    cpu = float(row["CPUPerc"].rstrip("%"))
    assert 5.0 < cpu <= 200.0, row  # a busy loop on a 2-core host
    used, limit = (x.strip() for x in row["MemUsage"].split("/"))
    assert limit == "64MiB", row
    assert used.endswith(("KiB", "MiB", "B")) and not used.startswith("0B"), row
    assert 0.0 < float(row["MemPerc"].rstrip("%")) < 100.0
    assert row["PIDs"] == "1"
    s = c.stats(stream=False)
    assert s["memory_stats"]["limit"] == 64 * 1024 * 1024
    assert 0 < s["memory_stats"]["usage"] < 64 * 1024 * 1024
    assert s["pids_stats"]["current"] == 1
    assert (
        s["cpu_stats"]["cpu_usage"]["total_usage"] > s["precpu_stats"]["cpu_usage"]["total_usage"]
    )
    c.remove(force=True)


def test_update_running_container(engine, client):
    c = _run(client, engine, ["sleep", "300"], mem_limit="32m", memswap_limit="64m")
    engine.cli("update", "--memory", "48m", "--memory-swap", "96m", "--cpus", "0.25",
               "--pids-limit", "20", c.id)  # fmt: skip
    if V1:
        assert int(_cg(c.id, "memory", "memory.limit_in_bytes")) == 48 * 1024 * 1024
        assert _cg(c.id, "cpu", "cpu.cfs_quota_us") == "25000"
    assert _cg(c.id, "pids", "pids.max") == "20"
    c.reload()
    hc = c.attrs["HostConfig"]
    assert hc["Memory"] == 48 * 1024 * 1024 and hc["NanoCpus"] == 250_000_000
    assert hc["PidsLimit"] == 20
    assert c.status == "running"
    c.remove(force=True)


BAD = [
    ({"Memory": -1}, ""),
    ({"Memory": 1024 * 1024}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit"),
    ({"MemoryReservation": 128 << 20, "Memory": 64 << 20}, "memory reservation"),
    ({"NanoCpus": (os.cpu_count() or 1) * 1_000_000_000 + 1}, "Range of CPUs is from 0.01"),
    ({"NanoCpus": -1}, "Range of CPUs"),
    ({"CpusetCpus": f"0-{(os.cpu_count() or 1) + 7}"}, "Requested CPUs are not available"),
    ({"CpusetCpus": "nonsense"}, ""),
    ({"CpuPeriod": 100}, "CPU cfs period"),
    ({"CpuQuota": 10}, "CPU cfs quota"),
    ({"ShmSize": -1}, ""),
    ({"MemorySwappiness": 150}, "swappiness"),
    ({"CpusetMems": "0-63"}, "Requested memory nodes are not available"),
    ({"MemorySwap": 64 << 20}, "You should always set the Memory limit"),
    ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, "maximum retry count"),
]


def test_impossible_limits_are_400_and_create_nothing(engine):
    before = engine.ids()
    dirs = set(os.listdir(engine.data_root / "containers"))
    for hc, words in BAD:
        body = {
            "Image": "busybox",
            "Cmd": ["true"],
            "Labels": {LABEL: ""},
            "HostConfig": {"NetworkMode": "none", **hc},
        }
        status, resp = engine.request("POST", "/containers/create", body)
        assert status == 400, (hc, status, resp)
        assert words in resp["message"], (hc, resp)
    assert engine.ids() == before
    assert set(os.listdir(engine.data_root / "containers")) == dirs


def test_impossible_update_is_400_and_changes_nothing(engine, client):
    c = _run(client, engine, ["sleep", "300"], mem_limit="32m", memswap_limit="64m")
    for hc in ({"Memory": 1024}, {"NanoCpus": 999_000_000_000}, {"CpusetCpus": "0-99"}):
        status, resp = engine.request("POST", f"/containers/{c.id}/update", hc)
        assert status == 400, (hc, status, resp)
    c.reload()
    assert c.attrs["HostConfig"]["Memory"] == 32 * 1024 * 1024
    if V1:
        assert int(_cg(c.id, "memory", "memory.limit_in_bytes")) == 32 * 1024 * 1024
    assert c.status == "running"
    c.remove(force=True)
    assert poll(lambda: not cgroups_of(c.id), 15)


def test_cli_refuses_what_docker_refuses(engine):
    before = engine.ids()
    for args in (["--cpus", "99"], ["--cpuset-cpus", "0-99"], ["-m", "1k"], ["--restart", "x"]):
        res = engine.cli("create", *args, "busybox", "true", check=False)
        assert res.returncode == 125, (args, res.stdout, res.stderr)
        assert res.stderr.strip(), args
    assert engine.ids() == before


@pytest.fixture(scope="module")
def dockerd(daemon, tmp_path_factory):
    """A private dockerd (shared harness: no iptables, no bridge; skipped with the
    reason when it cannot run) with berth's busybox loaded, through docker-py."""
    with private_dockerd("rs-dockerd-") as d:
        tar = tmp_path_factory.mktemp("busybox") / "busybox.tar"
        daemon.cli("save", "-o", str(tar), "busybox:latest")
        d.docker("load", "-i", str(tar))
        client = docker.DockerClient(base_url=d.host, timeout=60)
        try:
            yield client
        finally:
            client.close()


@pytest.mark.docker
def test_impossible_limits_as_dockerd_refuses_them(engine, dockerd):
    """The same bodies to a real dockerd: the same 400s, and nothing created on either."""
    same_message = 0
    for hc, _ in BAD:
        body = {
            "Image": "busybox:latest",
            "Cmd": ["true"],
            "Labels": {LABEL: ""},
            "HostConfig": {"NetworkMode": "none", **hc},
        }
        status, resp = engine.request("POST", "/containers/create", body)
        try:
            dockerd.api.create_container(
                "busybox:latest", ["true"], labels={LABEL: ""},
                host_config={"NetworkMode": "none", **hc},
            )  # fmt: skip
            theirs = (201, "")
        except docker.errors.APIError as exc:
            theirs = (exc.status_code, exc.explanation or "")
        assert (status, theirs[0]) == (400, 400), (hc, resp, theirs)
        same_message += resp["message"] == theirs[1]
    # the wording is Docker's for all but a few (restart policies word it as Docker 25 does)
    assert same_message >= len(BAD) - 5, same_message
    assert not dockerd.containers.list(all=True)


@pytest.mark.skipif(not V1, reason="the cgroup file names checked here are cgroup v1's")
def test_the_other_limit_flags_take_effect(engine):
    """--memory-swap, --memory-reservation, --oom-kill-disable, --cpuset-*, --device,
    --ulimit and --shm-size, as the container and its cgroup see them."""
    cid = engine.run_d(
        "--memory", "64m", "--memory-swap", "96m", "--memory-reservation", "32m",
        "--oom-kill-disable", "--cpuset-cpus", "0", "--cpuset-mems", "0",
        "--device", "/dev/null:/dev/mynull:rw", "--ulimit", "nofile=1024:2048",
        "--shm-size", "32m",
        "busybox", "sleep", "1000",
    )  # fmt: skip
    assert _cg(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert _cg(cid, "memory", "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert _cg(cid, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert "oom_kill_disable 1" in _cg(cid, "memory", "memory.oom_control")
    assert _cg(cid, "cpuset", "cpuset.cpus") == "0"
    assert _cg(cid, "cpuset", "cpuset.mems") == "0"
    seen = engine.cli(
        "exec", cid, "sh", "-c",
        "ulimit -Sn; ulimit -Hn; echo x > /dev/mynull && echo dev-ok; df -k /dev/shm | tail -1",
    ).stdout.split("\n")  # fmt: skip
    assert seen[:3] == ["1024", "2048", "dev-ok"]
    assert seen[3].split()[1] == str(32 * 1024)
    engine.cli("update", "--memory-reservation", "16m", cid)
    assert _cg(cid, "memory", "memory.soft_limit_in_bytes") == str(16 << 20)

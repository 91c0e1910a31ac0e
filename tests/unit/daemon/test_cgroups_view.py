from pathlib import Path

from berth.daemon import view
from berth.daemon.cgroupfs import Cgroup
from berth.daemon.listing import select
from berth.daemon.shimtasks import detach_key_bytes
from berth.daemon.state import State, Status
from berth.daemon.stats import sample
from berth.daemon.store import Container


def _v1(tmp_path: Path, cid: str) -> Cgroup:
    for ctrl in ("memory", "cpu", "cpuacct", "pids", "cpuset", "blkio"):
        (tmp_path / ctrl / "berth" / cid).mkdir(parents=True)
    return Cgroup.of(cid, tmp_path)


def test_update_resources_is_oci_json_of_the_changes_only():
    from berth.oci.builder import update_resources

    out = update_resources(
        {"Memory": 64 << 20, "MemorySwap": 128 << 20, "PidsLimit": 10, "NanoCpus": 500_000_000}
    )
    assert out["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert out["cpu"] == {"quota": 50_000, "period": 100_000}
    assert out["pids"] == {"limit": 10}
    assert "devices" not in out and "blockIO" not in out
    assert update_resources({"CpuShares": 512}) == {"cpu": {"shares": 512}}


def test_stats_sample_v1(tmp_path):
    cg = _v1(tmp_path, "c3")
    (tmp_path / "memory/berth/c3/memory.usage_in_bytes").write_text("1048576\n")
    (tmp_path / "memory/berth/c3/memory.limit_in_bytes").write_text("8388608\n")
    (tmp_path / "memory/berth/c3/memory.stat").write_text("cache 4096\ntotal_inactive_file 4096\n")
    (tmp_path / "cpuacct/berth/c3/cpuacct.usage").write_text("123456789\n")
    (tmp_path / "pids/berth/c3/pids.current").write_text("3\n")
    (tmp_path / "pids/berth/c3/pids.max").write_text("max\n")
    doc = sample(cg, 0, "web", "c3")
    assert doc["memory_stats"]["usage"] == 1048576 and doc["memory_stats"]["limit"] == 8388608
    assert doc["memory_stats"]["stats"]["total_inactive_file"] == 4096
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] == 123456789
    assert doc["pids_stats"] == {"current": 3}
    assert doc["name"] == "/web" and doc["cpu_stats"]["system_cpu_usage"] > 0


def test_detach_keys():
    assert detach_key_bytes(None) == b"\x10\x11"
    assert detach_key_bytes("ctrl-a,x") == b"\x01x"
    assert detach_key_bytes("ctrl-@,ctrl-[") == b"\x00\x1b"


def _c(cid, name, status, created, code=0, labels=None):
    st = State(status=status, exit_code=code, started_at=1, finished_at=2)
    return Container(cid, name, "busybox", "sha256:img", created, "runc",
                     {"Labels": labels or {}, "Cmd": ["sh", "-c", "a b"]}, {}, {}, st)  # fmt: skip


def test_listing_filters():
    cs = [
        _c("a" * 64, "web", Status.RUNNING, 3, labels={"app": "x"}),
        _c("b" * 64, "db", Status.EXITED, 2, code=1),
        _c("c" * 64, "job", Status.CREATED, 1),
    ]

    class Images:
        def resolve(self, ref):
            raise KeyError(ref)

    names = lambda out: [c.name for c in out]  # noqa: E731
    assert names(select(cs, False, -1, {}, Images())) == ["web"]
    assert names(select(cs, True, -1, {}, Images())) == ["web", "db", "job"]
    assert names(select(cs, True, -1, {"status": ["exited"]}, Images())) == ["db"]
    assert names(select(cs, True, -1, {"exited": ["1"]}, Images())) == ["db"]
    assert names(select(cs, True, -1, {"label": ["app=x"]}, Images())) == ["web"]
    assert names(select(cs, True, -1, {"before": ["web"]}, Images())) == ["db", "job"]
    assert names(select(cs, True, -1, {"since": ["job"]}, Images())) == ["web", "db"]
    assert names(select(cs, False, 1, {}, Images())) == ["web"]
    assert names(select(cs, True, -1, {"ancestor": ["sha256:img"]}, Images())) == [
        "web",
        "db",
        "job",
    ]


def test_ps_status_words():
    assert view.human_duration(0.5) == "Less than a second"
    assert view.human_duration(75) == "About a minute"
    assert view.human_duration(3 * 3600) == "3 hours"
    c = _c("b" * 64, "db", Status.EXITED, 2, code=1)
    c.state = State(status=Status.EXITED, exit_code=1, finished_at=10**9)
    assert view.status_text(c, now=61) == "Exited (1) About a minute ago"
    c.state = State(status=Status.RUNNING, started_at=10**9)
    assert view.status_text(c, now=6) == "Up 5 seconds"
    assert view.list_doc(c, now=6)["Command"] == "sh -c 'a b'"

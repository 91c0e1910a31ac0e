"""A real berthd that the resilience tests may kill, restart and overload.

One daemon per test session, on a temporary data root, exec root and socket;
tests kill it (`kill9`, `term`) and start it again on the same roots. Every
test gets a `engine` handle whose `cleanup` removes the containers it made and
then checks that nothing of them is left: no mount under the roots, no cgroup,
no shim, no container process (a process whose root is under the data root).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import berthd as harness
from tests.support.berthd import private_berthd
from tests.support.cgroups import cgroup_dirs
from tests.support.poll import poll
from tests.support.procs import alive, cmdline

__all__ = ["LABEL", "Berthd", "alive", "assert_clean", "cgroups_of", "cmdline", "leftovers", "poll"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
LABEL = "berth.test.resilience"


@dataclass
class Berthd(harness.Berthd):
    """The shared harness's berthd, with what these tests ask of it."""

    made: list[str] = field(default_factory=list)  # names of containers made by the test

    def shims(self, zygote: bool = False) -> list[int]:
        """Live shim processes of this exec root (the zygote excepted by default)."""
        return super().shims(zygote)

    def run_d(self, *args: str, name: str | None = None) -> str:
        """`berth run -d` a labelled container (the cleanup finds it); returns its id."""
        name = name or f"rs-{uuid.uuid4().hex[:10]}"
        self.made.append(name)
        res = self.cli("run", "-d", "--name", name, "--label", LABEL, "--network", "none", *args)
        return res.stdout.strip()

    def create(self, *args: str, name: str | None = None) -> str:
        name = name or f"rs-{uuid.uuid4().hex[:10]}"
        self.made.append(name)
        res = self.cli("create", "--name", name, "--label", LABEL, "--network", "none", *args)
        return res.stdout.strip()

    def inspect(self, ref: str) -> dict[str, Any]:
        status, doc = self.request("GET", f"/containers/{ref}/json")
        assert status == 200, doc
        return doc

    def state(self, ref: str) -> dict[str, Any]:
        return self.inspect(ref)["State"]

    def ids(self) -> set[str]:
        status, docs = self.request("GET", "/containers/json?all=1")
        assert status == 200, docs
        return {d["Id"] for d in docs}

    def fds(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0


def cgroups_of(cid: str) -> list[Path]:
    """cgroup directories of this container (cgroupfs `berth/<id>` or a systemd
    scope), at any depth of any hierarchy."""
    return [Path(p) for p in cgroup_dirs(cid, f"berth-{cid}.scope")]


def leftovers(d: Berthd, ids: set[str]) -> dict[str, Any]:
    """What is left of these containers on the host; empty when all is clean."""
    out: dict[str, Any] = {}
    mounts = [m for m in d.mounts() if any(i in m for i in ids)]
    if mounts:
        out["mounts"] = mounts
    cgroups = [str(p) for i in ids for p in cgroups_of(i)]
    if cgroups:
        out["cgroups"] = cgroups
    shim_dirs = [i for i in ids if (d.exec_root / "shims" / i).exists()]
    if shim_dirs:
        out["shim dirs"] = shim_dirs
    shims = [p for p in d.shims() if any(i.encode() in cmdline(p) for i in ids)]
    procs = d.container_processes(ids)
    if procs:
        out["container processes"] = procs
    if shims:
        out["shims"] = shims
    return out


def assert_clean(d: Berthd, ids: set[str], deadline: float = 15.0) -> None:
    left = poll(lambda: not leftovers(d, ids), deadline) or leftovers(d, ids)
    assert left is True or not left, f"left behind: {left}"


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory):
    """One berthd for the session (tests kill and restart it); its log is kept in
    pytest's own (rotated) temporary directory."""
    keep = tmp_path_factory.getbasetemp() / "berthd.log"
    with private_berthd("rs-", busybox=False, keep_log=keep, cls=Berthd) as d:
        d.load_busybox("busybox:latest")
        yield d


@pytest.fixture
def engine(daemon: Berthd):
    """The session's berthd, running; the containers the test made are removed after."""
    if not daemon.running():
        daemon.start()
    before = daemon.known_ids()
    daemon.made = []
    try:
        yield daemon
    finally:
        if not daemon.running():
            daemon.start()
        mine = daemon.known_ids() - before
        _, docs = daemon.request(
            "GET", "/containers/json?all=1&filters=" + quote(json.dumps({"label": [LABEL]}))
        )
        for doc in docs or []:
            mine.add(doc["Id"])
        daemon.seen |= mine
        for cid in mine:
            daemon.request("DELETE", f"/containers/{cid}?force=1")
        assert_clean(daemon, mine)

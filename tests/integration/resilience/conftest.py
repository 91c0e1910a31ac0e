"""A real berthd that the resilience tests may kill, restart and overload.

One daemon per test session, on a temporary data root, exec root and socket;
tests kill it (`kill9`, `term`) and start it again on the same roots. Every
test gets a `engine` handle whose `cleanup` removes the containers it made and
then checks that nothing of them is left: no mount under the roots, no cgroup,
no shim, no container process (a process whose root is under the data root).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import tool

RUNTIME = os.environ.get("BERTH_TEST_RUNTIME", "berth-runc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
LABEL = "berth.test.resilience"


def poll(fn: Callable[[], Any], deadline: float = 30.0, interval: float = 0.05) -> Any:
    """`fn()` until it is truthy or the deadline passes; returns the last value."""
    end = time.monotonic() + deadline
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3]
    return state not in (b"Z", b"X")


def cmdline(pid: int | str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@dataclass
class Berthd:
    root: Path
    proc: subprocess.Popen | None = None
    made: list[str] = field(default_factory=list)  # names of containers made by the test
    seen: set[str] = field(default_factory=set)  # ids of every container the tests made

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    @property
    def sock(self) -> Path:
        return self.root / "b.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def log(self) -> Path:
        return self.root / "berthd.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # ---- the daemon's life -------------------------------------------------------------

    def start(self) -> None:
        cfg = self.root / "daemon.json"
        cfg.write_text("{}")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    tool("berthd"),
                    "--data-root", str(self.data_root),
                    "--exec-root", str(self.exec_root),
                    "-H", self.host,
                    "--config-file", str(cfg),
                    "--default-runtime", RUNTIME,
                ],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berthd exited: {self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/_ping", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"berthd did not answer /_ping: {self.log.read_text()[-3000:]}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def term(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(60)

    def restart(self, how: str = "kill9") -> None:
        self.kill9() if how == "kill9" else self.term()
        self.start()

    # ---- talking to it -----------------------------------------------------------------

    def request(
        self, method: str, path: str, body: object | None = None, timeout: float = 60
    ) -> tuple[int, Any]:
        conn = _UnixConn(str(self.sock), timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw

    def cli_argv(self, *args: str) -> list[str]:
        return [tool("berth"), "-H", self.host, *args]

    def cli(self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None):
        """`berth -H ... ARGS` through berth's own CLI."""
        res = subprocess.run(
            self.cli_argv(*args), capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"berth {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
        return res

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

    # ---- what is on the host -----------------------------------------------------------

    def mounts(self) -> list[str]:
        """Mount points under the roots (the network service's netns dir excepted)."""
        roots = (str(self.data_root), str(self.exec_root))
        found = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                target = line.split()[4]
                if target.startswith(roots) and target != str(self.exec_root / "netns"):
                    found.append(target)
        return found

    def shims(self) -> list[int]:
        """Live shim processes of this exec root (the zygote excepted)."""
        want = str(self.exec_root).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            cmd = cmdline(entry)
            if b"berth" not in cmd or want not in cmd or b"zygote" not in cmd:
                continue
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "berth-shim" and alive(int(entry)):
                pids.append(int(entry))
        return sorted(pids)

    def container_processes(self, ids: set[str] | None = None) -> list[int]:
        """Processes in the cgroup of one of these containers (default: any this
        daemon ever had); a process in another mount namespace shows its root as
        "/", so the cgroup is what tells where it belongs."""
        ids = self.seen | self.known_ids() if ids is None else ids
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/cgroup").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                path = line.split(":", 2)[-1]
                if "/berth/" in path and path.split("/berth/")[1][:64] in ids:
                    if alive(int(entry)):
                        pids.append(int(entry))
                    break
        return pids

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def known_ids(self) -> set[str]:
        """Container ids this daemon ever had on disk (records, dirs, shim dirs)."""
        out = set()
        for d in (self.data_root / "containers", self.exec_root / "shims"):
            if d.is_dir():
                out |= {e.name for e in d.iterdir() if len(e.name) == 64}
        return out


def cgroups_of(cid: str) -> list[Path]:
    """cgroup directories named after this container (v1 controllers and v2)."""
    found = []
    for ctrl in CGROUP_ROOT.iterdir():
        for parent in (ctrl / "berth" / cid, ctrl / "system.slice" / f"berth-{cid}.scope"):
            if parent.is_dir():
                found.append(parent)
    if (CGROUP_ROOT / "berth" / cid).is_dir():
        found.append(CGROUP_ROOT / "berth" / cid)
    return found


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
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    root = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    d = Berthd(root)
    d.start()
    try:
        status, body = d.request("POST", "/berth/images/busybox?tag=busybox:latest")
        assert status == 201, body
        yield d
    finally:
        try:
            if not d.running():
                d.start()
            for cid in d.ids():
                d.request("DELETE", f"/containers/{cid}?force=1")
        finally:
            if d.running():
                d.term()
        left = d.mounts()
        for target in reversed(left):
            subprocess.run(["umount", "-l", target], check=False)
        procs = d.container_processes()
        shims = d.shims()
        for pid in procs + shims + _zygotes(d):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if d.log.exists():  # kept in pytest's own (rotated) temporary directory
            shutil.copy(d.log, tmp_path_factory.getbasetemp() / "berthd.log")
        subprocess.run(["rm", "-rf", str(root)], check=False)
        assert not left, f"mounts left behind: {left}"
        assert not shims, f"shims left behind: {shims}"
        assert not procs, f"container processes left behind: {procs}"


def _zygotes(d: Berthd) -> list[int]:
    want = str(d.exec_root).encode()
    return [
        int(p)
        for p in os.listdir("/proc")
        if p.isdigit() and b"zygote" in cmdline(p) and want in cmdline(p)
    ]


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

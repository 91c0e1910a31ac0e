"""A private berthd for tests: its own data root, exec root, socket, pidfile and
daemon.json under one temporary directory, ready when `/_ping` answers.

`private_berthd(...)` starts one (a start failure FAILS the test, with the
daemon's log tail: a broken berthd must never turn into a skip), and on the way
out removes every container, stops the daemon and checks that it left nothing
on the host: no mount under its roots, no shim, no process naming its
directory, no bridge, namespace file or iptables chain of its own. What is left
is removed and then reported as a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import procs
from tests.support.cgroups import cgroup_dirs
from tests.support.dockercli import DockerCli
from tests.support.mounts import mounts_under, unmount_all
from tests.support.poll import poll
from tests.support.tools import tool
from tests.support.unixhttp import UnixApi

# the OCI runtime the containers use (berth-runc; BERTH_TEST_RUNTIME=runc works too)
RUNTIME = os.environ.get("BERTH_TEST_RUNTIME", "berth-runc")


@dataclass
class Berthd(DockerCli, UnixApi):
    """One berthd process (started, stopped and restarted on the same roots)."""

    root: Path
    runtime: str | None = RUNTIME
    storage_driver: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # written as daemon.json
    args: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # default: the unix socket under `root`
    text_output: bool = True  # what docker() returns by default: str (or bytes)
    proc: subprocess.Popen | None = None
    seen: set[str] = field(default_factory=set)  # ids of containers it ever had (tests add)

    # ---- where things are ----------------------------------------------------------------

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
    def log(self) -> Path:
        return self.root / "berthd.log"

    @property
    def config_file(self) -> Path:
        return self.root / "daemon.json"

    @property
    def host(self) -> str:
        return self.hosts[0] if self.hosts else f"unix://{self.sock}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def _tag(self) -> str:
        # berthd names its default bridge and chains after a hash of a non-default exec root
        return hashlib.sha256(str(self.exec_root).encode()).hexdigest()[:8]

    @property
    def bridge(self) -> str:
        return f"bt{self._tag}0"

    @property
    def chain(self) -> str:
        return f"BT{self._tag.upper()}"

    # ---- the daemon's life ---------------------------------------------------------------

    def argv(self) -> list[str]:
        argv = [
            tool("berthd"),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--config-file", str(self.config_file),
            "--pidfile", str(self.root / "berthd.pid"),
        ]  # fmt: skip
        for host in self.hosts or (self.host,):
            argv += ["-H", host]
        if self.runtime:
            argv += ["--default-runtime", self.runtime]
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        return [*argv, *self.args]

    def start(self, wait: bool = True, deadline: float = 60) -> None:
        """Start it; with `wait`, return once `/_ping` answers (RuntimeError if it exits
        or does not answer in time: a test that needs berthd fails)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(json.dumps(self.config))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if wait:
            self.wait_ready(deadline)

    def wait_ready(self, deadline: float = 60) -> None:
        def ready() -> bool:
            if not self.running():
                raise RuntimeError(
                    f"berthd exited with {self.proc and self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                return self.request("GET", "/_ping", timeout=5)[0] == 200
            except OSError:
                return False

        if not poll(ready, deadline):
            raise RuntimeError(f"berthd did not answer /_ping in {deadline}s:\n{self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def term(self, timeout: float = 60) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop(self.proc)

    def restart(self, how: str = "kill9") -> None:
        self.kill9() if how == "kill9" else self.term()
        self.start()

    # ---- talking to it (request() from UnixApi) --------------------------------------------

    def cli_argv(self, *args: str) -> list[str]:
        return [tool("berth"), "-H", self.host, *args]

    def cli(self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None):
        """`berth -H ... ARGS` through berth's own CLI (text output)."""
        res = subprocess.run(
            self.cli_argv(*args), capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"berth {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
        return res

    def load_busybox(self, tag: str | None = None) -> str:
        """busybox (default busybox:latest) from the host's static busybox; its id."""
        query = f"?tag={tag}" if tag else ""
        status, body = self.request("POST", f"/berth/images/busybox{query}")
        assert status == 201, body
        return body["Id"]

    def remove_all(self) -> None:
        """Force-remove every container."""
        status, docs = self.request("GET", "/containers/json?all=1")
        assert status == 200, f"cannot list containers: {status} {docs}\n{self.log_tail()}"
        for doc in docs:
            self.request("DELETE", f"/containers/{doc['Id']}?force=1")

    # ---- what it has on the host ---------------------------------------------------------

    def mounts(self) -> list[str]:
        """Mount points under the roots, but the network service's namespace directory
        (kept mounted across daemon restarts for live restore; what is in it counts)."""
        netns_dir = str(self.exec_root / "netns")
        return [m for m in mounts_under(self.data_root, self.exec_root) if m != netns_dir]

    def shims(self, zygote: bool = True) -> list[int]:
        """Live shims of this exec root (from their pid files, and those the zygote
        forked), with the zygote itself unless `zygote` is False."""
        pids = set()
        shims_dir = self.exec_root / "shims"
        if shims_dir.is_dir():
            for entry in shims_dir.iterdir():
                with contextlib.suppress(OSError, ValueError):
                    pid = int((entry / "shim.pid").read_text().strip() or 0)
                    if procs.alive(pid):
                        pids.add(pid)
        for pid in procs.pids_mentioning(f"{self.exec_root}/"):
            cmd = procs.cmdline(pid)
            if b"berth.shim" in cmd and (zygote or _comm(pid) == "berth-shim"):
                pids.add(pid)
        return sorted(pids)

    def known_ids(self) -> set[str]:
        """Container ids this daemon has on disk now (records, shim dirs)."""
        out = set()
        for d in (self.data_root / "containers", self.exec_root / "shims"):
            if d.is_dir():
                out |= {e.name for e in d.iterdir() if len(e.name) == 64}
        return out

    def ids_from_events(self) -> set[str]:
        """Ids of the containers this daemon reported events for (what it keeps)."""
        flt = quote(json.dumps({"type": ["container"]}))
        status, raw = self.request(
            "GET", f"/events?since=0&until={time.time():.3f}&filters={flt}", decode=False
        )
        if status != 200:
            return set()
        out = set()
        for line in raw.decode(errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                out.add(json.loads(line)["Actor"]["ID"])
        return {i for i in out if len(i) == 64}

    def container_processes(self, ids: set[str] | None = None) -> list[int]:
        """Live processes in the cgroup of one of these containers (default: any this
        daemon ever had); a process in another mount namespace shows its root as "/",
        so the cgroup is what tells where it belongs."""
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
                    if procs.alive(int(entry)):
                        pids.append(int(entry))
                    break
        return pids

    def cgroups(self, ids: set[str] | None = None) -> list[str]:
        """cgroup directories of these containers (default: any this daemon ever had)."""
        ids = self.seen | self.known_ids() if ids is None else ids
        return cgroup_dirs(*ids, *(f"berth-{i}.scope" for i in ids)) if ids else []

    def leftovers(self) -> list[str]:
        """Network objects of this daemon on the host: its bridge, namespace files (and
        their directory's mount), iptables rules naming its chains, port proxies."""
        from berth.network import netlink

        out = []
        if netlink.link_exists(self.bridge):
            out.append(f"bridge {self.bridge}")
        netns_dir = self.exec_root / "netns"
        if netns_dir.exists():
            out += [f"netns {p}" for p in netns_dir.iterdir()]
            if netlink.is_mountpoint(str(netns_dir)):
                out.append(f"mount {netns_dir}")
        for table in ("nat", "filter"):
            rules = subprocess.run(
                ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True
            ).stdout
            out += [f"{table}: {r}" for r in rules.splitlines() if self.chain in r]
        for pid in procs.pids_mentioning(str(self.exec_root)):
            if b"berth.network.proxy" in procs.cmdline(pid):
                out.append(f"proxy {pid}")
        return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def shutdown(d: Berthd, check: bool = True, keep_log: Path | None = None) -> None:
    """Remove every container, stop the daemon, remove whatever it left behind, delete
    its directory; then, with `check`, fail on what had been left."""
    try:
        if d.proc is not None and not d.running() and _has_containers(d):
            d.start()  # crashed or stopped by the test: containers still need removing
        d.seen |= d.known_ids() | (
            d.ids_from_events() if d.running() and d.sock.exists() else set()
        )
        if d.running() and d.sock.exists():
            d.remove_all()
    finally:
        d.stop()
        poll(lambda: not d.shims(zygote=True), 10)  # they exit once their containers are gone
        shims = d.shims(zygote=True)
        containers = d.container_processes()
        poll(lambda: not d.cgroups(), 10)  # removed by the runtime as its containers go
        cgroups = d.cgroups()
        network = [x for x in d.leftovers() if x != f"mount {d.exec_root / 'netns'}"]
        mounts = d.mounts()
        strays = [p for p in procs.pids_mentioning(f"{d.root}/") if p not in shims]
        described = {
            p: procs.cmdline(p).replace(b"\0", b" ").decode(errors="replace") for p in strays
        }
        procs.kill(shims + strays + containers)
        unmount_all(mounts_under(d.root))
        if any(x.startswith("bridge ") for x in network):
            subprocess.run(["ip", "link", "del", d.bridge], capture_output=True)
        if keep_log is not None and d.log.exists():
            shutil.copy(d.log, keep_log)
        log = d.log_tail()
        subprocess.run(["rm", "-rf", str(d.root)], check=False)
    if check:
        left = {
            "mounts": mounts,
            "shims": shims,
            "processes": described,
            "container processes": containers,
            "cgroups": cgroups,
            "network objects": network,
        }
        left = {k: v for k, v in left.items() if v}
        assert not left, f"berthd left behind: {left}\nits log:\n{log}"


def _has_containers(d: Berthd) -> bool:
    containers = d.data_root / "containers"
    return containers.is_dir() and any(containers.iterdir())


@contextlib.contextmanager
def private_berthd(
    prefix: str = "bd-",
    *,
    busybox: bool = True,
    check: bool = True,
    keep_log: Path | None = None,
    cls: type[Berthd] = Berthd,
    **options: Any,
) -> Iterator[Berthd]:
    """A running berthd of its own (`options`: see Berthd; `cls` a subclass with more
    helpers) holding busybox:latest unless `busybox` is False; cleaned up and checked
    afterwards (see `shutdown`)."""
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    # directly under /tmp: a unix socket path is limited to 108 bytes
    d = cls(Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")), **options)
    try:
        d.start()
        if busybox:
            d.load_busybox()
        yield d
    finally:
        shutdown(d, check=check, keep_log=keep_log)

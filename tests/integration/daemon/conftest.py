"""A real berthd per test session on a temporary data root, exec root and socket.

The fixture starts `berthd`, polls `/_ping` with a deadline, makes
busybox:latest through berth's own route, and at the end removes every
container, stops the daemon and checks that no mount under its roots and no
shim process of its exec root is left behind.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import tool

DOCKER = "/usr/local/bin/docker"
# the OCI runtime the containers of the session use (berth-runc; runc works too)
RUNTIME = os.environ.get("BERTH_TEST_RUNTIME", "berth-runc")


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


@dataclass
class Berthd:
    root: Path
    data_root: Path
    exec_root: Path
    sock: Path
    log: Path
    proc: subprocess.Popen | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def request(self, method: str, path: str, body: object | None = None, timeout: float = 60):
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
                    *self.extra_args,
                ],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berthd exited: {self.log.read_text()[-3000:]}")
            try:
                status, _ = self.request("GET", "/_ping", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"berthd did not answer /_ping: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)

    def docker(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ):
        res = subprocess.run(
            [DOCKER, "-H", self.host, *args], capture_output=True, text=True,
            input=input, timeout=timeout,
        )  # fmt: skip
        if check and res.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
        return res

    def remove_all(self) -> None:
        _, docs = self.request("GET", "/containers/json?all=1")
        for doc in docs or []:
            self.request("DELETE", f"/containers/{doc['Id']}?force=1")


def _mounts_under(paths: list[Path]) -> list[str]:
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            target = line.split()[4]
            if any(target.startswith(str(p)) for p in paths):
                found.append(target)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X")


def shims_of(exec_root: Path) -> list[int]:
    """Live shim processes (and the shims' zygote) of this daemon's exec root."""
    pids = []
    shims = exec_root / "shims"
    if shims.is_dir():
        for entry in shims.iterdir():
            try:
                pid = int((entry / "shim.pid").read_text().strip() or 0)
            except (OSError, ValueError):
                continue
            if pid and _alive(pid):
                pids.append(pid)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"berth.shim" in cmd and str(exec_root).encode() in cmd and _alive(int(entry)):
            pids.append(int(entry))
    return sorted(set(pids))


@pytest.fixture(scope="session")
def berthd():
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    root = Path(tempfile.mkdtemp(prefix="bd-", dir="/tmp"))
    d = Berthd(root, root / "data", root / "exec", root / "b.sock", root / "berthd.log")
    d.start()
    try:
        status, body = d.request("POST", "/berth/images/busybox")
        assert status == 201, body
        yield d
    finally:
        try:
            if d.proc is None or d.proc.poll() is not None:
                d.start()
            d.remove_all()
        finally:
            d.stop()
        leftovers = _mounts_under([d.data_root, d.exec_root])
        for target in reversed(leftovers):
            subprocess.run(["umount", "-l", target], check=False)
        # the network service keeps its namespace directory mounted across daemon
        # restarts (live restore); only what is inside it would be a leak
        leftovers = [m for m in leftovers if m != str(d.exec_root / "netns")]
        deadline = time.monotonic() + 10
        while shims_of(d.exec_root) and time.monotonic() < deadline:
            time.sleep(0.05)
        shims = shims_of(d.exec_root)
        for pid in shims:
            os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(root)], check=False)
        assert not leftovers, f"mounts left behind: {leftovers}"
        assert not shims, f"shims left behind: {shims}"


@contextlib.contextmanager
def private_berthd(prefix: str, *extra_args: str):
    """A berthd of its own (with `extra_args`) holding busybox:latest, stopped afterwards."""
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d = Berthd(
        root, root / "data", root / "exec", root / "b.sock", root / "berthd.log",
        extra_args=extra_args,
    )  # fmt: skip
    d.start()
    try:
        status, body = d.request("POST", "/berth/images/busybox")
        assert status == 201, body
        yield d
    finally:
        d.stop()
        for target in reversed(_mounts_under([d.data_root, d.exec_root])):
            subprocess.run(["umount", "-l", target], check=False)

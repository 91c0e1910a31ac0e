"""Daemons for the build tests: a berthd and a private dockerd, each on its own
temporary roots and socket, started and stopped by pid (never by name)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


@dataclass
class Daemon:
    root: Path
    sock: Path
    log: Path
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 60):
        conn = _UnixConn(str(self.sock), timeout)
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, raw

    def wait_ready(self, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {self.log.read_text()[-3000:]}")
            try:
                status, _ = self.request("GET", "/_ping", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer /_ping: {self.log.read_text()[-3000:]}")

    def docker(
        self,
        *args: str,
        check: bool = True,
        input: bytes | str | None = None,
        cwd: Path | None = None,
        timeout: float = 180,
    ):
        env = dict(os.environ, DOCKER_BUILDKIT="0", DOCKER_CONFIG=str(self.root / "dockercfg"))
        res = subprocess.run(
            [DOCKER, "-H", self.host, *args],
            capture_output=True,
            input=input.encode() if isinstance(input, str) else input,
            cwd=cwd,
            env=env,
            timeout=timeout,
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} -> {res.returncode}\n{res.stdout.decode()}\n{res.stderr.decode()}"
            )
        return res

    def inspect(self, ref: str) -> dict:
        return json.loads(self.docker("image", "inspect", ref).stdout)[0]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def start_berthd(root: Path, runtime: str = "runc") -> Daemon:
    from tests.conftest import tool

    root.mkdir(parents=True, exist_ok=True)
    cfg = root / "daemon.json"
    cfg.write_text("{}")
    d = Daemon(root, root / "berth.sock", root / "berthd.log")
    with open(d.log, "ab") as log:
        d.proc = subprocess.Popen(
            [
                tool("berthd"),
                "--data-root", str(root / "data"),
                "--exec-root", str(root / "exec"),
                "-H", d.host,
                "--config-file", str(cfg),
                "--default-runtime", runtime,
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    d.wait_ready()
    status, raw = d.request("POST", "/berth/images/busybox")
    assert status in (200, 201), raw
    return d


def start_dockerd(root: Path) -> Daemon | None:
    """A private dockerd, or None when it cannot run here (with the reason in the log)."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    d = Daemon(root, root / "d.sock", root / "dockerd.log")
    with open(d.log, "ab") as log:
        d.proc = subprocess.Popen(
            [
                dockerd,
                "--iptables=false", "--bridge=none",
                "--data-root", str(root / "root"),
                "--exec-root", str(root / "exec"),
                "-H", d.host,
                "--pidfile", str(root / "d.pid"),
            ],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        d.wait_ready(60)
    except RuntimeError:
        stop_dockerd(d)
        return None
    return d


def stop_dockerd(d: Daemon) -> None:
    """Stop dockerd and the containerd it spawned (by pid, from its pidfile)."""
    containerd_pid = None
    pidfile = d.root / "exec" / "containerd" / "containerd.pid"
    if pidfile.exists():
        try:
            containerd_pid = int(pidfile.read_text().strip())
        except ValueError:
            containerd_pid = None
    d.stop()
    if containerd_pid:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(containerd_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.kill(containerd_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    from berth.storage import mounting

    for point in mounting.mounts_under(d.root):
        subprocess.run(["umount", "-l", point], capture_output=True)

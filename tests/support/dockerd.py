"""A private dockerd for differential tests: `--iptables=false --bridge=none`, its
own data root, exec root, socket, pidfile and an empty daemon.json under one
temporary directory (never /var/lib/docker or /var/run/docker.sock).

`private_dockerd()` skips the test, with the reason, when dockerd cannot run
here (not root, not installed, or it does not come up); afterwards it stops
dockerd, the containerd it spawned and anything else naming its directory,
and unmounts and deletes what it made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import procs
from tests.support.dockercli import DockerCli
from tests.support.mounts import mounts_under, unmount_all
from tests.support.poll import poll
from tests.support.tools import DOCKER
from tests.support.unixhttp import UnixApi


@dataclass
class Dockerd(DockerCli, UnixApi):
    root: Path
    text_output: bool = True
    proc: subprocess.Popen | None = None

    @property
    def sock(self) -> Path:
        return self.root / "d.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def start(self) -> None:
        (self.root / "daemon.json").write_text("{}")  # never the host's /etc/docker
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    shutil.which("dockerd") or "dockerd",
                    "--iptables=false", "--bridge=none",
                    "--data-root", str(self.root / "root"),
                    "--exec-root", str(self.root / "exec"),
                    "-H", self.host,
                    "--pidfile", str(self.root / "d.pid"),
                    "--config-file", str(self.root / "daemon.json"),
                ],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, deadline: float = 60) -> str | None:
        """None once `/_ping` answers, else why not (it exited, or the deadline passed)."""

        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                return True
            try:
                return self.request("GET", "/_ping", timeout=5)[0] == 200
            except OSError:
                return False

        if poll(ready, deadline) and self.proc is not None and self.proc.poll() is None:
            return None
        tail = self.log.read_text(errors="replace")[-600:] if self.log.exists() else ""
        if self.proc is not None and self.proc.poll() is not None:
            return f"dockerd exited with {self.proc.returncode}: {tail}"
        return f"dockerd did not answer /_ping in {deadline}s: {tail}"

    def stop(self) -> None:
        """Stop dockerd and the containerd it spawned, kill what else names our
        directory (containerd shims), unmount and delete everything."""
        containerd = None
        with contextlib.suppress(OSError, ValueError):
            pidfile = self.root / "exec" / "containerd" / "containerd.pid"
            containerd = int(pidfile.read_text().strip())
        if self.proc is not None:
            procs.stop(self.proc)
        if containerd and not poll(lambda: not procs.alive(containerd), 15):
            procs.kill([containerd])
        procs.kill(procs.pids_mentioning(f"{self.root}/"))
        unmount_all(mounts_under(self.root))
        shutil.rmtree(self.root, ignore_errors=True)


def unavailable() -> str | None:
    """Why a private dockerd cannot run here, or None."""
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (docker.io)"
    if not os.path.exists(DOCKER):
        return "the docker CLI is not installed"
    return None


@contextlib.contextmanager
def private_dockerd(prefix: str = "bdk-", *, text_output: bool = True) -> Iterator[Dockerd]:
    """A running private dockerd, or a skip saying why there cannot be one."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    # directly under /tmp: a unix socket path is limited to 108 bytes
    d = Dockerd(Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp")), text_output)
    try:
        d.start()
        problem = d.wait_ready()
        if problem:
            pytest.skip(f"a private dockerd cannot start here: {problem}")
        yield d
    finally:
        d.stop()

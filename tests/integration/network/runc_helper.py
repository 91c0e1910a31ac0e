"""Real containers for network tests, without berthd: runc with a generated bundle.

Each container gets a copy of the busybox rootfs, joins the network namespace
berth prepared (by path, as berthd's OCI spec does), gets the OCI mounts berth's
volume manager resolved, and /etc/hosts and /etc/resolv.conf bind-mounted from
berth's generated text. runc's state lives in the test's temporary directory.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest


class Runc:
    def __init__(self, workdir: Path, rootfs_template: Path) -> None:
        self.exe = shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/usr/bin")
        if self.exe is None:
            pytest.skip("runc is not installed")
        self.workdir = workdir
        self.state = workdir / "runc-state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.template = rootfs_template
        self.started: list[str] = []
        spec_dir = workdir / "spec-template"
        spec_dir.mkdir(exist_ok=True)
        subprocess.run([self.exe, "spec"], cwd=spec_dir, check=True)
        self.spec = json.loads((spec_dir / "config.json").read_text())

    def _bundle(
        self,
        cid: str,
        args: list[str],
        netns: str | None,
        mounts: list[dict],
        hosts: str,
        resolv: str,
        hostname: str,
    ) -> Path:
        bundle = self.workdir / cid
        shutil.copytree(self.template, bundle / "rootfs", symlinks=True)
        (bundle / "hosts").write_text(hosts)
        (bundle / "resolv.conf").write_text(resolv)
        spec = json.loads(json.dumps(self.spec))
        spec["process"]["terminal"] = False
        spec["process"]["args"] = args
        spec["root"] = {"path": "rootfs", "readonly": False}
        spec["hostname"] = hostname
        ns = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
        if netns is not None:
            ns.append({"type": "network", "path": netns})
        spec["linux"]["namespaces"] = ns
        spec["linux"]["cgroupsPath"] = f"/bttest-{cid}"
        for name in ("hosts", "resolv.conf"):
            spec["mounts"].append(
                {
                    "destination": f"/etc/{name}",
                    "type": "bind",
                    "source": str(bundle / name),
                    "options": ["rbind", "rw"],
                }
            )
        spec["mounts"].extend(mounts)
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle

    def run(
        self,
        name: str,
        args: list[str],
        *,
        netns: str | None,
        mounts: list[dict] = (),
        hosts: str = "",
        resolv: str = "",
        detach: bool = True,
    ) -> str:
        cid = f"bt-{name}-{secrets.token_hex(4)}"
        bundle = self._bundle(cid, args, netns, list(mounts), hosts, resolv, name)
        log = (self.workdir / f"{cid}.log").open("wb")
        cmd = [self.exe, "--root", str(self.state), "run"]
        if detach:
            cmd.append("-d")
        self.started.append(cid)
        proc = subprocess.run(
            [*cmd, cid], cwd=bundle, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60
        )
        log.close()
        if proc.returncode != 0:
            raise AssertionError(
                f"runc run {name} failed: {(self.workdir / f'{cid}.log').read_text()}"
            )
        return cid

    def stop(self, cid: str) -> None:
        subprocess.run(
            [self.exe, "--root", str(self.state), "kill", cid, "KILL"], capture_output=True
        )
        subprocess.run(
            [self.exe, "--root", str(self.state), "delete", "-f", cid], capture_output=True
        )
        if cid in self.started:
            self.started.remove(cid)

    def cleanup(self) -> None:
        for cid in list(self.started):
            self.stop(cid)

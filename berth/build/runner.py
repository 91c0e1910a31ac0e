"""One RUN step: a container on a snapshot of the previous step, through the
OCI runtime's command line.

The protocol, in order:

1. the images service prepares a writable snapshot of the parent image and
   mounts it at `<state>/containers/<id>/rootfs`;
2. the working directory is created in it (as Docker does before a RUN);
3. `berth.oci.builder` writes the bundle's config.json: the step's argv, env,
   user and cwd, Docker's default mounts and seccomp profile, the host's
   network namespace (or a new empty one for `--network none`), plus the
   step's `RUN --mount`s;
4. `<runtime> run --bundle <dir> <id>` runs it to completion, its output
   (stdout and stderr merged) passed to the caller as it arrives;
5. the caller commits the snapshot's diff as a layer when the exit code is 0;
6. `cleanup` deletes the runtime's state, the snapshot and the bundle, whatever
   happened before (a failed step leaves no container and no mount).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.errors import InternalError

# Ids of build containers and image views start with these, so that a daemon
# restart can tell them from users' containers and remove what a crash left.
BUILD_CONTAINER_PREFIX = "build-"
VIEW_PREFIX = "bview-"

_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


@dataclass(slots=True)
class RunRequest:
    container_id: str
    image_id: str
    argv: list[str]
    env: list[str]
    user: str = ""
    workdir: str = "/"
    network: str = "default"  # default (host's namespace), host, none
    mounts: list[dict[str, Any]] = field(default_factory=list)


class StepRunner:
    def __init__(self, images: Any, runtime: str, state_dir: Path) -> None:
        self.images = images  # berth.image.service.ImageService
        self.runtime = runtime
        self.state_dir = Path(state_dir)
        self.runtime_root = self.state_dir / "runtime"

    def bundle(self, cid: str) -> Path:
        return self.state_dir / "containers" / cid

    def run(self, req: RunRequest, out: Callable[[bytes], None]) -> int:
        """Run the step; returns its exit code. Call `cleanup` afterwards in every case."""
        from berth.oci.builder import BuildInput, build_spec
        from berth.oci.spec import dump_spec

        bundle = self.bundle(req.container_id)
        rootfs = bundle / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        hostname = req.container_id.removeprefix(BUILD_CONTAINER_PREFIX)[:12]
        (bundle / "hostname").write_text(hostname + "\n")
        (bundle / "hosts").write_text(_HOSTS)
        resolv = Path("/etc/resolv.conf")
        (bundle / "resolv.conf").write_text(
            resolv.read_text() if req.network != "none" and resolv.exists() else ""
        )
        self.images.prepare_container_rootfs(req.container_id, req.image_id, rootfs)
        make_dir_in(rootfs, req.workdir)
        spec = build_spec(
            BuildInput(
                id=req.container_id,
                config={
                    "Hostname": hostname,
                    "Cmd": req.argv,
                    "Env": req.env,
                    "User": req.user,
                    "WorkingDir": req.workdir,
                },
                host_config={"NetworkMode": "none" if req.network == "none" else "host"},
                rootfs=rootfs,
                container_dir=bundle,
                extra_mounts=req.mounts,
                cgroup_parent="/berth-build",
            )
        )
        (bundle / "config.json").write_text(dump_spec(spec))
        self.runtime_root.mkdir(parents=True, exist_ok=True)
        try:
            proc = subprocess.Popen(
                [
                    self.runtime,
                    "--root",
                    str(self.runtime_root),
                    "run",
                    "--bundle",
                    str(bundle),
                    req.container_id,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise InternalError(f"cannot start the OCI runtime {self.runtime}: {exc}") from exc
        assert proc.stdout is not None
        with proc.stdout:
            while chunk := proc.stdout.read1(65536):  # type: ignore[attr-defined]
                out(chunk)
        return proc.wait()

    def cleanup(self, cid: str) -> None:
        bundle = self.bundle(cid)
        if (self.runtime_root / cid).exists():
            subprocess.run(
                [self.runtime, "--root", str(self.runtime_root), "delete", "--force", cid],
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
        rootfs = bundle / "rootfs"
        self.images.remove_container_rootfs(cid, rootfs)
        shutil.rmtree(bundle, ignore_errors=True)


def resolve_in_root(root: Path, path: str) -> Path:
    """`path` inside `root` with symlinks resolved as the container would see them."""
    parts = [p for p in path.split("/") if p and p != "."]
    current = Path(root)
    depth = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if current != root:
                current = current.parent
            continue
        candidate = current / part
        if candidate.is_symlink():
            depth += 1
            if depth > 40:
                raise InternalError(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = Path(root)
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        current = candidate
    return current


def make_dir_in(root: Path, path: str, uid: int = 0, gid: int = 0) -> None:
    """mkdir -p of a container path inside `root`, never leaving it."""
    target = resolve_in_root(root, path)
    if target.is_dir():
        return
    missing = []
    p = target
    while not p.exists() and p != root:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o755)
            os.chown(d, uid, gid)

"""What the containers service offers besides lifecycle: logs, top, changes,
export, archive (cp), update, stats. Each is a function of the service and
a container; `ContainerService` exposes them as thin methods."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from typing import IO, Any

from berth.daemon import logs as logmod
from berth.daemon import stats as statsmod
from berth.daemon.cgroupfs import Cgroup
from berth.daemon.state import Status
from berth.errors import Conflict, InternalError, InvalidArgument, NotFound

RUNNING_LIKE = (Status.RUNNING, Status.PAUSED)


def logs(svc: Any, ref: str, **kw: Any) -> Iterator[bytes]:
    c = svc.store.get(ref)
    multiplex = not c.config.get("Tty")

    def running() -> bool:
        try:
            return svc.store.get(c.id).state.status in (*RUNNING_LIKE, Status.RESTARTING)
        except NotFound:
            return False

    return logmod.read(
        svc.dir_of(c.id) / f"{c.id}-json.log", multiplex=multiplex, running=running, **kw
    )


def top(svc: Any, ref: str, ps_args: str) -> dict[str, Any]:
    c = svc.store.get(ref)
    if c.state.status not in RUNNING_LIKE:
        raise Conflict(f"Container {c.id} is not running")
    pids = set(svc.tasks.pids(c.id))
    try:
        out = subprocess.run(
            ["ps", *ps_args.split()], capture_output=True, text=True, check=True
        ).stdout
    except subprocess.CalledProcessError as exc:
        raise InternalError(f"Error running ps: {exc.stderr.strip()}") from exc
    lines = out.splitlines()
    if not lines:
        raise InternalError("ps printed nothing")
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    col = titles.index("PID")
    procs = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}


@contextlib.contextmanager
def _rootfs(svc: Any, cid: str) -> Iterator[Any]:
    """The container's root, mounted for the duration when it is not running."""
    c = svc.store.get(cid)
    if c.state.status in RUNNING_LIKE:
        yield svc.images.rootfs_path(c.id)
        return
    with svc._lock(c.id):
        path = svc.images.mount_rootfs(c.id)
        try:
            yield path
        finally:
            if svc.store.get(c.id).state.status not in RUNNING_LIKE:
                svc.images.unmount_rootfs(c.id)


# files bind-mounted from the container's directory: cp reads them there, as docker does
_CONTAINER_FILES = {
    "/etc/hostname": "hostname",
    "/etc/hosts": "hosts",
    "/etc/resolv.conf": "resolv.conf",
}


def _own_file(svc: Any, cid: str, path: str) -> tuple[Any, str] | None:
    name = _CONTAINER_FILES.get(os.path.normpath("/" + path.lstrip("/")))
    return (svc.dir_of(cid), name) if name else None


def archive_stat(svc: Any, ref: str, path: str) -> dict[str, Any]:
    from berth.volumes import pathsafe

    c = svc.store.get(ref)
    own = _own_file(svc, c.id, path)
    if own is not None:
        return pathsafe.stat_in_root(*own)
    with _rootfs(svc, c.id) as root:
        return pathsafe.stat_in_root(root, path)


def archive_get(svc: Any, ref: str, path: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    import tempfile

    from berth.volumes import pathsafe

    c = svc.store.get(ref)
    own = _own_file(svc, c.id, path)
    with contextlib.nullcontext(own[0]) if own else _rootfs(svc, c.id) as root:
        if own:
            path = own[1]
        stat = pathsafe.stat_in_root(root, path)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the stream
        pathsafe.archive(root, path, spool)  # type: ignore[arg-type]
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while True:
                data = spool.read(1 << 16)
                if not data:
                    return
                yield data

    return stat, chunks()


def archive_put(
    svc: Any, ref: str, path: str, body: IO[bytes], no_overwrite_dir_non_dir: bool,
    copy_uid_gid: bool,
) -> None:  # fmt: skip
    from berth.volumes import pathsafe

    c = svc.store.get(ref)
    if c.host_config.get("ReadonlyRootfs"):
        raise InvalidArgument("container rootfs is marked read-only")
    with _rootfs(svc, c.id) as root:
        pathsafe.extract(root, path, body, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir)  # type: ignore[arg-type]
    svc._emit(c, "extract-to-dir")


def changes(svc: Any, ref: str) -> list[dict[str, Any]]:
    c = svc.store.get(ref)
    return svc.images.changes(c.id)


def export(svc: Any, ref: str) -> Iterator[bytes]:
    c = svc.store.get(ref)
    chunks = svc.images.export(c.id)
    svc._emit(c, "export")
    return chunks


UPDATABLE = (
    "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
    "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "RestartPolicy",
    "KernelMemory", "CpuRealtimePeriod", "CpuRealtimeRuntime",
)  # fmt: skip


def update(svc: Any, ref: str, body: dict[str, Any]) -> list[str]:
    from berth.daemon import merge

    c = svc.store.get(ref)
    merge.check_types({"HostConfig": body})
    changes_ = {k: v for k, v in body.items() if k in UPDATABLE and v is not None}
    if "RestartPolicy" in changes_ and not (changes_["RestartPolicy"] or {}).get("Name"):
        del changes_["RestartPolicy"]
    with svc._lock(c.id):
        c = svc.store.get(c.id)
        new_hc = dict(c.host_config)
        new_hc.update(changes_)
        merge.validate_host_config(new_hc, os.cpu_count() or 1)
        policy = (changes_.get("RestartPolicy") or {}).get("Name")
        if new_hc.get("AutoRemove") and policy not in (None, "", "no"):
            raise InvalidArgument(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
            )
        limits = {k: v for k, v in changes_.items() if k != "RestartPolicy"}
        if c.state.status in RUNNING_LIKE and limits:
            _runtime_update(svc, c, limits)
        c.host_config = new_hc
        svc.store.save(c)
    svc._emit(c, "update")
    return []


def _runtime_update(svc: Any, c: Any, limits: dict[str, Any]) -> None:
    """New limits go through the container's own runtime (`update --resources -`), which
    owns its cgroup; a refusal (say a limit below current usage) is the caller's 400."""
    import json

    from berth.oci import builder

    if "MemorySwap" in limits and "Memory" not in limits:
        limits = {**limits, "Memory": c.host_config.get("Memory")}
    body = json.dumps(builder.update_resources(limits)).encode()
    res = svc.runtime_command(c, "update", "--resources", "-", c.id, stdin=body)
    if res.returncode != 0:
        message = res.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidArgument(
            f"Cannot update container {c.id}: {message[-1] if message else 'runtime failed'}"
        )


def stats_once(svc: Any, ref: str, one_shot: bool = False) -> dict[str, Any]:
    """Docker's stream=false: two samples a second apart (so a CPU % can be
    computed from precpu_stats); one-shot: one sample at once."""
    c = svc.store.get(ref)
    if c.state.status not in RUNNING_LIKE:
        return statsmod.empty(c.name, c.id)
    cg = Cgroup.of(c.id)
    first = statsmod.sample(cg, c.state.pid, c.name, c.id)
    if one_shot:
        return first
    time.sleep(1.0)
    return statsmod.with_previous(statsmod.sample(cg, c.state.pid, c.name, c.id), first)


def stats_stream(svc: Any, ref: str, interval: float = 1.0) -> Iterator[dict[str, Any]]:
    c = svc.store.get(ref)
    cg = Cgroup.of(c.id)
    prev = None
    while True:
        try:
            cur_c = svc.store.get(c.id)
        except NotFound:
            return
        if cur_c.state.status not in RUNNING_LIKE:
            yield statsmod.empty(c.name, c.id)
            return
        cur = statsmod.with_previous(statsmod.sample(cg, cur_c.state.pid, cur_c.name, c.id), prev)
        yield cur
        prev = cur
        time.sleep(interval)

"""Container commands that are one or two API calls: ps, stop, rm, logs, top, cp, stats ..."""

from __future__ import annotations

import sys

from berth.cli import common, humanize
from berth.cli.commands.ps import PS_HEADERS, display_ports, ps_row  # noqa: F401 (moved)
from berth.cli.flags import BOOL, INT, LIST, STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FILTER = Flag("-f, --filter", LIST, help="Filter output based on conditions provided")

SPECS: dict[str, Spec] = {
    "stop": Spec(
        "stop [OPTIONS] CONTAINER [CONTAINER...]",
        "Stop one or more running containers",
        [
            Flag("-s, --signal", STR, help="Signal to send to the container"),
            Flag("-t, --time", INT, help="Seconds to wait before killing the container"),
        ],
        min_args=1,
    ),
    "restart": Spec(
        "restart [OPTIONS] CONTAINER [CONTAINER...]",
        "Restart one or more containers",
        [
            Flag("-s, --signal", STR, help="Signal to send to the container"),
            Flag("-t, --time", INT, help="Seconds to wait before killing the container"),
        ],
        min_args=1,
    ),
    "kill": Spec(
        "kill [OPTIONS] CONTAINER [CONTAINER...]",
        "Kill one or more running containers",
        [Flag("-s, --signal", STR, "KILL", "Signal to send to the container")],
        min_args=1,
    ),
    "rm": Spec(
        "rm [OPTIONS] CONTAINER [CONTAINER...]",
        "Remove one or more containers",
        [
            Flag("-f, --force", help="Force the removal of a running container (uses SIGKILL)"),
            Flag("-l, --link", help="Remove the specified link"),
            Flag("-v, --volumes", help="Remove anonymous volumes associated with the container"),
        ],
        min_args=1,
    ),
    "logs": Spec(
        "logs [OPTIONS] CONTAINER",
        "Fetch the logs of a container",
        [
            Flag("--details", help="Show extra details provided to logs"),
            Flag("-f, --follow", help="Follow log output"),
            Flag("--since", STR, help="Show logs since timestamp or relative (e.g. 42m)"),
            Flag("-n, --tail", STR, "all", "Number of lines to show from the end of the logs"),
            Flag("-t, --timestamps", help="Show timestamps"),
            Flag("--until", STR, help="Show logs before a timestamp or relative (e.g. 42m)"),
        ],
        min_args=1,
        max_args=1,
    ),
    "top": Spec(
        "top CONTAINER [ps OPTIONS]",
        "Display the running processes of a container",
        [],
        min_args=1,
        interspersed=False,
    ),
    "wait": Spec(
        "wait CONTAINER [CONTAINER...]",
        "Block until one or more containers stop, then print their exit codes",
        [],
        min_args=1,
    ),
    "rename": Spec("rename CONTAINER NEW_NAME", "Rename a container", [], 2, 2),
    "pause": Spec(
        "pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", [], 1
    ),
    "unpause": Spec(
        "unpause CONTAINER [CONTAINER...]",
        "Unpause all processes within one or more containers",
        [],
        1,
    ),
    "diff": Spec(
        "diff CONTAINER",
        "Inspect changes to files or directories on a container's filesystem",
        [],
        1,
        1,
    ),
    "export": Spec(
        "export [OPTIONS] CONTAINER",
        "Export a container's filesystem as a tar archive",
        [Flag("-o, --output", STR, help="Write to a file, instead of STDOUT")],
        1,
        1,
    ),
    "cp": Spec(
        "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
        "Copy files/folders between a container and the local filesystem",
        [
            Flag("-a, --archive", help="Archive mode (copy all uid/gid information)"),
            Flag("-L, --follow-link", help="Always follow symbol link in SRC_PATH"),
            Flag("-q, --quiet", help="Suppress progress output during copy"),
        ],
        2,
        2,
    ),
    "port": Spec(
        "port CONTAINER [PRIVATE_PORT[/PROTO]]",
        "List port mappings or a specific mapping for the container",
        [],
        1,
        2,
    ),
    "update": Spec(
        "update [OPTIONS] CONTAINER [CONTAINER...]",
        "Update configuration of one or more containers",
        [
            Flag("--cpu-shares", INT, help="CPU shares (relative weight)"),
            Flag("--cpus", STR, help="Number of CPUs"),
            Flag("--cpuset-cpus", STR, help="CPUs in which to allow execution"),
            Flag("--cpuset-mems", STR, help="MEMs in which to allow execution"),
            Flag("-m, --memory", STR, help="Memory limit"),
            Flag("--memory-reservation", STR, help="Memory soft limit"),
            Flag("--memory-swap", STR, help="Swap limit equal to memory plus swap"),
            Flag("--pids-limit", INT, help="Tune container pids limit (set -1 for unlimited)"),
            Flag("--restart", STR, help="Restart policy to apply when a container exits"),
        ],
        1,
    ),
    "commit": Spec(
        "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        "Create a new image from a container's changes",
        [
            Flag("-a, --author", STR, help="Author"),
            Flag("-c, --change", LIST, help="Apply Dockerfile instruction to the created image"),
            Flag("-m, --message", STR, help="Commit message"),
            Flag("-p, --pause", BOOL, True, "Pause container during commit"),
        ],
        1,
        2,
    ),
    "container prune": Spec(
        "container prune [OPTIONS]",
        "Remove all stopped containers",
        [_FILTER, Flag("-f, --force", help="Do not prompt for confirmation")],
        max_args=0,
    ),
}


def _ignore_not_modified(call: Any) -> Any:
    from berth.errors import NotModified

    try:
        return call()
    except NotModified:
        return None


def run_stop(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {"t": o["time"], "signal": o["signal"]}
    return common.for_each(
        args,
        lambda n: _ignore_not_modified(
            lambda: ctx.client.post(f"/containers/{common.quote(n)}/stop", params=params)
        ),
    )


def run_restart(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {"t": o["time"], "signal": o["signal"]}
    return common.for_each(
        args, lambda n: ctx.client.post(f"/containers/{common.quote(n)}/restart", params=params)
    )


def run_kill(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {"signal": o["signal"]}
    return common.for_each(
        args, lambda n: ctx.client.post(f"/containers/{common.quote(n)}/kill", params=params)
    )


def run_rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {"force": o["force"] or None, "v": o["volumes"] or None, "link": o["link"] or None}
    return common.for_each(
        args, lambda n: ctx.client.delete(f"/containers/{common.quote(n)}", params=params)
    )


def run_pause(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    return common.for_each(args, lambda n: ctx.client.post(f"/containers/{common.quote(n)}/pause"))


def run_unpause(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    return common.for_each(
        args, lambda n: ctx.client.post(f"/containers/{common.quote(n)}/unpause")
    )


def run_wait(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    def wait(name: str) -> str:
        result = ctx.client.post(f"/containers/{common.quote(name)}/wait") or {}
        return str(result.get("StatusCode", 0))

    return common.for_each(args, wait)


def run_rename(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    old, new = args
    if not new.strip():
        raise UsageError("Error: Neither old nor new names may be empty", 1)
    ctx.client.post(f"/containers/{common.quote(old)}/rename", params={"name": new})
    return 0


def inspect_container(ctx: Context, name: str) -> dict[str, Any]:
    return ctx.client.get(f"/containers/{common.quote(name)}/json")


def run_logs(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import streams

    name = args[0]
    info = inspect_container(ctx, name)
    params = {
        "stdout": True,
        "stderr": True,
        "follow": o["follow"] or None,
        "timestamps": o["timestamps"] or None,
        "details": o["details"] or None,
        "tail": o["tail"] if o["tail"] != "all" else None,
        "since": humanize.parse_timestamp(o["since"]) if o["since"] else None,
        "until": humanize.parse_timestamp(o["until"]) if o["until"] else None,
    }
    resp = ctx.client.request("GET", f"/containers/{common.quote(name)}/logs", params=params)
    try:
        streams.copy_output(resp.iter_raw(), tty=bool(info.get("Config", {}).get("Tty")))
    finally:
        resp.close()
    return 0


def run_top(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {"ps_args": " ".join(args[1:])} if len(args) > 1 else None
    result = ctx.client.get(f"/containers/{common.quote(args[0])}/top", params=params)
    lines = ["\t".join(result.get("Titles") or [])]
    lines += ["\t".join(p) for p in result.get("Processes") or []]
    rows = [line.split("\t") for line in lines]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [c.ljust(max(widths[i] + 3, 20)) for i, c in enumerate(r[:-1])]
        print("".join(cells) + r[-1])
    return 0


def run_diff(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    changes = ctx.client.get(f"/containers/{common.quote(args[0])}/changes") or []
    kinds = {0: "C", 1: "A", 2: "D"}
    for change in changes:
        print(f"{kinds.get(change.get('Kind'), '?')} {change.get('Path')}")
    return 0


def run_export(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not o["output"] and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1)
    resp = ctx.client.request("GET", f"/containers/{common.quote(args[0])}/export")
    try:
        common.write_binary(resp.iter_raw(), o["output"], "export")
    finally:
        resp.close()
    return 0


def run_cp(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.cli import copying

    src, dst = args
    src_c, src_path = copying.split_container_path(src)
    dst_c, dst_path = copying.split_container_path(dst)
    if src_c and dst_c:
        raise UsageError("copying between containers is not supported", 1)
    if not src_c and not dst_c:
        raise UsageError("must specify at least one container source", 1)
    if src_c:
        copying.copy_from_container(ctx.client, src_c, src_path, dst_path, o["follow_link"])
    else:
        copying.copy_to_container(ctx.client, src_path, dst_c, dst_path, o["follow_link"])
    return 0


def run_port(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    info = inspect_container(ctx, args[0])
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(args) == 2:
        want = args[1] if "/" in args[1] else args[1] + "/tcp"
        bindings = ports.get(want)
        if not bindings:
            print(
                f"Error: No public port '{want}' published for {args[0]}",
                file=sys.stderr,
            )
            return 1
        for b in bindings:
            print(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
        return 0
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[key] or []:
            ip = b.get("HostIp") or "0.0.0.0"
            ip = f"[{ip}]" if ":" in ip else ip
            print(f"{key} -> {ip}:{b.get('HostPort')}")
    return 0


def run_update(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    body: dict[str, Any] = {}
    if o["cpu_shares"] is not None:
        body["CpuShares"] = o["cpu_shares"]
    if o["cpus"]:
        body["NanoCpus"] = int(float(o["cpus"]) * 1e9)
    if o["cpuset_cpus"]:
        body["CpusetCpus"] = o["cpuset_cpus"]
    if o["cpuset_mems"]:
        body["CpusetMems"] = o["cpuset_mems"]
    for flag, key in (
        ("memory", "Memory"),
        ("memory_reservation", "MemoryReservation"),
        ("memory_swap", "MemorySwap"),
    ):
        if o[flag]:
            body[key] = -1 if o[flag] == "-1" else humanize.parse_size(o[flag])
    if o["pids_limit"] is not None:
        body["PidsLimit"] = o["pids_limit"]
    if o["restart"]:
        from berth.cli.runopts import restart_policy

        body["RestartPolicy"] = restart_policy(o["restart"])
    if not body:
        raise UsageError("you must provide one or more flags when using this command", 1)

    def update(name: str) -> None:
        result = ctx.client.post(f"/containers/{common.quote(name)}/update", body=body) or {}
        for warning in result.get("Warnings") or []:
            print(warning, file=sys.stderr)

    return common.for_each(args, update)


def run_commit(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    repo, tag = None, None
    if len(args) == 2:
        from berth.cli.refs import split_tag

        repo, tag = split_tag(args[1])
    params = {
        "container": args[0],
        "repo": repo,
        "tag": tag,
        "comment": o["message"],
        "author": o["author"],
        "pause": o["pause"],
        "changes": o["change"] or None,
    }
    if o["change"]:
        params["changes"] = "\n".join(o["change"])
    result = ctx.client.post("/commit", params=params, body={}) or {}
    print(result.get("Id", ""))
    return 0


def run_container_prune(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not common.confirm("WARNING! This will remove all stopped containers.", o["force"]):
        return 0
    result = (
        ctx.client.post("/containers/prune", params={"filters": common.filters_param(o["filter"])})
        or {}
    )
    deleted = result.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:")
        for cid in deleted:
            print(cid)
        print()
    print(f"Total reclaimed space: {humanize.size(result.get('SpaceReclaimed') or 0)}")
    return 0

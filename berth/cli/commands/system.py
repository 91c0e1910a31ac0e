"""version, info, events, inspect, system df, system prune."""

from __future__ import annotations

import sys
import time

from berth.cli import common, humanize, table
from berth.cli.flags import LIST, STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("-f, --format", STR, help="Format output using a custom template")

SPECS: dict[str, Spec] = {
    "version": Spec(
        "version [OPTIONS]", "Show the berth version information", [_FORMAT], max_args=0
    ),
    "info": Spec("info [OPTIONS]", "Display system-wide information", [_FORMAT], max_args=0),
    "events": Spec(
        "events [OPTIONS]",
        "Get real time events from the server",
        [
            Flag("-f, --filter", LIST, help="Filter output based on conditions provided"),
            Flag("--format", STR, help="Format the output using the given Go template"),
            Flag("--since", STR, help="Show all events created since timestamp"),
            Flag("--until", STR, help="Stream events until this timestamp"),
        ],
        max_args=0,
    ),
    "system df": Spec(
        "system df [OPTIONS]",
        "Show berth disk usage",
        [
            Flag("--format", STR, help="Format output using a custom template"),
            Flag("-v, --verbose", help="Show detailed information on space usage"),
        ],
        max_args=0,
    ),
    "system prune": Spec(
        "system prune [OPTIONS]",
        "Remove unused data",
        [
            Flag("-a, --all", help="Remove all unused images not just dangling ones"),
            Flag("--filter", LIST, help="Provide filter values"),
            Flag("-f, --force", help="Do not prompt for confirmation"),
            Flag("--volumes", help="Prune anonymous volumes"),
        ],
        max_args=0,
    ),
}


def run_version(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    import platform

    from berth import __version__
    from berth.client.api import MAX_API_VERSION
    from berth.errors import BerthError

    client_info = {
        "Version": __version__,
        "ApiVersion": MAX_API_VERSION,
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": "amd64",
    }
    server = None
    error = None
    try:
        server = ctx.client.get("/version")
    except BerthError as e:
        error = e
    if o["format"]:
        data = {"Client": client_info, "Server": server}
        sys.stdout.write(table.render(o["format"], [data], {}))
        return 0 if error is None else 1
    api = ctx.client._version or MAX_API_VERSION
    print("Client:")
    print(f" Version:           {__version__}")
    print(f" API version:       {api}")
    print(f" Python version:    {platform.python_version()}")
    print(f" OS/Arch:           linux/{platform.machine()}")
    if server is not None:
        print()
        print(f"Server: {server.get('Platform', {}).get('Name', '')}".rstrip())
        print(" Engine:")
        print(f"  Version:          {server.get('Version')}")
        print(
            f"  API version:      {server.get('ApiVersion')} (minimum version {server.get('MinAPIVersion')})"
        )
        print(f"  Go version:       {server.get('GoVersion')}")
        print(f"  Git commit:       {server.get('GitCommit')}")
        print(f"  Built:            {server.get('BuildTime')}")
        print(f"  OS/Arch:          {server.get('Os')}/{server.get('Arch')}")
        for comp in server.get("Components") or []:
            if comp.get("Name") != "Engine":
                print(f" {comp.get('Name')}:")
                print(f"  Version:          {comp.get('Version')}")
    if error is not None:
        print(str(error), file=sys.stderr)
        return 1
    return 0


def _security_lines(options: list[str]) -> list[str]:
    """`name=seccomp,profile=default` -> "  seccomp" / "   Profile: default", as docker."""
    lines = []
    for opt in options:
        fields = dict(kv.split("=", 1) for kv in opt.split(",") if "=" in kv)
        lines.append(f"  {fields.pop('name', opt)}")
        lines += [f"   {k.capitalize()}: {v}" for k, v in fields.items()]
    return lines


def info_lines(info: dict[str, Any]) -> list[str]:
    """`info`'s text, docker's layout for the fields the Engine API returns."""
    from berth import __version__

    plugins = info.get("Plugins") or {}
    lines = [
        "Client:",
        f" Version:    {__version__}",
        " Context:    default",
        " Debug Mode: false",
        "",
        "Server:",
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
    ]
    lines += [f"  {key}: {value}" for key, value in info.get("DriverStatus") or []]
    lines += [
        f" Logging Driver: {info.get('LoggingDriver', '')}",
        f" Cgroup Driver: {info.get('CgroupDriver', '')}",
        f" Cgroup Version: {info.get('CgroupVersion', '')}",
    ]
    if plugins:
        lines.append(" Plugins:")
        for kind in ("Volume", "Network", "Authorization", "Log"):
            if plugins.get(kind):
                lines.append(f"  {kind}: " + " ".join(plugins[kind]))
    swarm = (info.get("Swarm") or {}).get("LocalNodeState")
    if swarm:
        lines.append(f" Swarm: {swarm}")
    lines.append(" Runtimes: " + " ".join(sorted(info.get("Runtimes") or {})))
    lines.append(f" Default Runtime: {info.get('DefaultRuntime', '')}")
    if info.get("InitBinary"):
        lines.append(f" Init Binary: {info['InitBinary']}")
    for label, key in (
        ("containerd version", "ContainerdCommit"),
        ("runc version", "RuncCommit"),
        ("init version", "InitCommit"),
    ):
        if key in info:
            lines.append(f" {label}: {(info.get(key) or {}).get('ID', '')}")
    lines.append(" Security Options:")
    lines += _security_lines(info.get("SecurityOptions") or [])
    lines += [
        f" Kernel Version: {info.get('KernelVersion', '')}",
        f" Operating System: {info.get('OperatingSystem', '')}",
        f" OSType: {info.get('OSType', '')}",
        f" Architecture: {info.get('Architecture', '')}",
        f" CPUs: {info.get('NCPU', 0)}",
        f" Total Memory: {humanize.bytes_size(info.get('MemTotal', 0))}",
        f" Name: {info.get('Name', '')}",
        f" ID: {info.get('ID', '')}",
        f" Berth Root Dir: {info.get('DockerRootDir', '')}",
        f" Debug Mode: {'true' if info.get('Debug') else 'false'}",
        f" Experimental: {'true' if info.get('ExperimentalBuild') else 'false'}",
    ]
    registries = (info.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs") or []
    if registries:
        lines.append(" Insecure Registries:")
        lines += [f"  {r}" for r in registries]
    mirrors = (info.get("RegistryConfig") or {}).get("Mirrors") or []
    if mirrors:
        lines.append(" Registry Mirrors:")
        lines += [f"  {m}" for m in mirrors]
    lines.append(f" Live Restore Enabled: {'true' if info.get('LiveRestoreEnabled') else 'false'}")
    return lines


def run_info(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    info = ctx.client.get("/info")
    if o["format"]:
        sys.stdout.write(table.render(o["format"], [info], {}))
        return 0
    print("\n".join(info_lines(info)) + "\n")
    for warning in info.get("Warnings") or []:
        print(warning, file=sys.stderr)
    return 0


def run_events(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    params = {
        "since": humanize.parse_timestamp(o["since"]) if o["since"] else None,
        "until": humanize.parse_timestamp(o["until"]) if o["until"] else None,
        "filters": common.filters_param(o["filter"]),
    }
    for event in ctx.client.stream_json("GET", "/events", params=params):
        if o["format"]:
            sys.stdout.write(table.render(o["format"], [event], {}))
        else:
            sys.stdout.write(format_event(event) + "\n")
        sys.stdout.flush()
    return 0


def format_event(e: dict[str, Any]) -> str:
    """`2026-11-29T04:10:57.123456789Z container start <id> (image=busybox, name=x)`."""
    nanos = e.get("timeNano") or int(e.get("time", 0) * 1e9)
    secs, frac = divmod(int(nanos), 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"
    actor = e.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    text = f"{stamp} {e.get('Type', '')} {e.get('Action', e.get('status', ''))} {actor.get('ID', e.get('id', ''))}"
    if attrs:
        text += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return text


def _with_percent(part: int, total: int) -> str:
    text = humanize.size(part)
    return f"{text} ({part * 100 // total}%)" if total > 0 else text


def disk_usage_rows(df: dict[str, Any]) -> list[dict[str, str]]:
    """The four `system df` rows, with docker's arithmetic for each column."""
    images = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    cache = df.get("BuildCache") or []
    layers = df.get("LayersSize") or 0
    used = sum(
        i.get("VirtualSize", i.get("Size", 0)) - i.get("SharedSize", 0)
        for i in images
        if i.get("Containers", 0) != 0 and i.get("SharedSize", 0) != -1
    )
    active = {"running", "paused", "restarting"}
    ctr_total = sum(c.get("SizeRw") or 0 for c in containers)
    ctr_free = sum(c.get("SizeRw") or 0 for c in containers if c.get("State") not in active)
    sizes = [(v.get("UsageData") or {}) for v in volumes]
    vol_total = sum(u.get("Size", 0) for u in sizes if u.get("Size", -1) != -1)
    vol_free = sum(
        u.get("Size", 0) for u in sizes if u.get("Size", -1) != -1 and u.get("RefCount", 0) == 0
    )
    return [
        {
            "Type": "Images",
            "TotalCount": str(len(images)),
            "Active": str(sum(1 for i in images if i.get("Containers", 0) > 0)),
            "Size": humanize.size(layers),
            "Reclaimable": _with_percent(layers - used, layers),
        },
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(sum(1 for c in containers if c.get("State") in active)),
            "Size": humanize.size(ctr_total),
            "Reclaimable": _with_percent(ctr_free, ctr_total),
        },
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volumes)),
            "Active": str(sum(1 for u in sizes if u.get("RefCount", 0) > 0)),
            "Size": humanize.size(vol_total),
            "Reclaimable": _with_percent(vol_free, vol_total),
        },
        {
            "Type": "Build Cache",
            "TotalCount": str(len(cache)),
            "Active": str(sum(1 for b in cache if b.get("InUse"))),
            "Size": humanize.size(sum(b.get("Size", 0) for b in cache if not b.get("Shared"))),
            "Reclaimable": humanize.size(
                sum(b.get("Size", 0) for b in cache if not b.get("InUse") and not b.get("Shared"))
            ),
        },
    ]


def run_system_df(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    rows = disk_usage_rows(ctx.client.get("/system/df") or {})
    fmt = (
        o["format"] or "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
    )
    headers = {
        "Type": "TYPE",
        "TotalCount": "TOTAL",
        "Active": "ACTIVE",
        "Size": "SIZE",
        "Reclaimable": "RECLAIMABLE",
    }
    sys.stdout.write(table.render(fmt, rows, headers))
    return 0


def run_system_prune(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    warning = (
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
        + ("  - all anonymous volumes not used by at least one container\n" if o["volumes"] else "")
        + (
            "  - all images without at least one container associated to them\n"
            if o["all"]
            else "  - all dangling images\n"
        )
        + "  - all build cache\n"
    )
    if not common.confirm(warning, o["force"]):
        return 0
    filters = common.parse_filters(o["filter"]) or {}
    from berth import jsoncodec as json

    def fparam(extra: dict[str, list[str]] | None = None) -> str | None:
        merged = {**filters, **(extra or {})}
        return (
            json.dumps({k: dict.fromkeys(v, True) for k, v in merged.items()}) if merged else None
        )

    from berth import errors

    total = 0
    out = []
    for path, key, title, extra in (
        ("/containers/prune", "ContainersDeleted", "Deleted Containers:", None),
        ("/networks/prune", "NetworksDeleted", "Deleted Networks:", None),
        ("/volumes/prune", "VolumesDeleted", "Deleted Volumes:", None),
        (
            "/images/prune",
            "ImagesDeleted",
            "Deleted Images:",
            {"dangling": ["false" if o["all"] else "true"]},
        ),
        ("/build/prune", "CachesDeleted", "Deleted build cache objects:", None),
    ):
        if path == "/volumes/prune" and not o["volumes"]:
            continue
        try:
            result = ctx.client.post(path, params={"filters": fparam(extra)}) or {}
        except (errors.NotFound, errors.NotImplementedYet):
            continue
        total += result.get("SpaceReclaimed") or 0
        deleted = result.get(key) or []
        if deleted:
            out.append(title)
            for item in deleted:
                if isinstance(item, dict):
                    for k, v in item.items():
                        out.append(f"{k}: {v}")
                else:
                    out.append(str(item))
            out.append("")
    for line in out:
        print(line)
    print(f"Total reclaimed space: {humanize.size(total)}")
    return 0

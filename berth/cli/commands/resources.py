"""network and volume commands."""

from __future__ import annotations

import sys

from berth import jsoncodec as json
from berth.cli import common, humanize, table
from berth.cli.flags import LIST, STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FILTER = Flag("-f, --filter", LIST, help="Provide filter values")
_FORMAT = Flag("--format", STR, help="Format output using a custom template")
_QUIET = Flag("-q, --quiet", help="Only display names/IDs")

SPECS: dict[str, Spec] = {
    "network ls": Spec(
        "network ls [OPTIONS]",
        "List networks",
        [_FILTER, _FORMAT, Flag("--no-trunc", help="Do not truncate the output"), _QUIET],
        max_args=0,
    ),
    "network create": Spec(
        "network create [OPTIONS] NETWORK",
        "Create a network",
        [
            Flag("--attachable", help="Enable manual container attachment"),
            Flag("-d, --driver", STR, "bridge", "Driver to manage the Network"),
            Flag("--gateway", LIST, help="IPv4 or IPv6 Gateway for the master subnet"),
            Flag("--internal", help="Restrict external access to the network"),
            Flag("--ip-range", LIST, help="Allocate container ip from a sub-range"),
            Flag("--ipv6", help="Enable IPv6 networking"),
            Flag("--label", LIST, help="Set metadata on a network"),
            Flag("-o, --opt", LIST, help="Set driver specific options"),
            Flag("--subnet", LIST, help="Subnet in CIDR format that represents a network segment"),
        ],
        1,
        1,
    ),
    "network rm": Spec(
        "network rm NETWORK [NETWORK...]",
        "Remove one or more networks",
        [Flag("-f, --force", help="Do not error if the network does not exist")],
        1,
    ),
    "network inspect": Spec(
        "network inspect [OPTIONS] NETWORK [NETWORK...]",
        "Display detailed information on one or more networks",
        [
            Flag("-f, --format", STR, help="Format the output using the given Go template"),
            Flag("-v, --verbose", help="Verbose output for diagnostics"),
        ],
        1,
    ),
    "network connect": Spec(
        "network connect [OPTIONS] NETWORK CONTAINER",
        "Connect a container to a network",
        [
            Flag("--alias", LIST, help="Add network-scoped alias for the container"),
            Flag("--ip", STR, help="IPv4 address"),
            Flag("--ip6", STR, help="IPv6 address"),
        ],
        2,
        2,
    ),
    "network disconnect": Spec(
        "network disconnect [OPTIONS] NETWORK CONTAINER",
        "Disconnect a container from a network",
        [Flag("-f, --force", help="Force the container to disconnect from a network")],
        2,
        2,
    ),
    "network prune": Spec(
        "network prune [OPTIONS]",
        "Remove all unused networks",
        [
            Flag("--filter", LIST, help="Provide filter values"),
            Flag("-f, --force", help="Do not prompt for confirmation"),
        ],
        max_args=0,
    ),
    "volume ls": Spec(
        "volume ls [OPTIONS]", "List volumes", [_FILTER, _FORMAT, _QUIET], max_args=0
    ),
    "volume create": Spec(
        "volume create [OPTIONS] [VOLUME]",
        "Create a volume",
        [
            Flag("-d, --driver", STR, "local", "Specify volume driver name"),
            Flag("--label", LIST, help="Set metadata for a volume"),
            Flag("--name", STR, help="Specify volume name"),
            Flag("-o, --opt", LIST, help="Set driver specific options"),
        ],
        max_args=1,
    ),
    "volume rm": Spec(
        "volume rm [OPTIONS] VOLUME [VOLUME...]",
        "Remove one or more volumes",
        [Flag("-f, --force", help="Force the removal of one or more volumes")],
        1,
    ),
    "volume inspect": Spec(
        "volume inspect [OPTIONS] VOLUME [VOLUME...]",
        "Display detailed information on one or more volumes",
        [Flag("-f, --format", STR, help="Format output using a custom template")],
        1,
    ),
    "volume prune": Spec(
        "volume prune [OPTIONS]",
        "Remove unused local volumes",
        [
            Flag("-a, --all", help="Remove all unused volumes, not just anonymous ones"),
            Flag("--filter", LIST, help="Provide filter values"),
            Flag("-f, --force", help="Do not prompt for confirmation"),
        ],
        max_args=0,
    ),
}


def _inspect_many(ctx: Context, kind: str, names: list[str], fmt: str | None) -> int:
    from berth.errors import BerthError

    results, status = [], 0
    for name in names:
        try:
            results.append(ctx.client.get(f"/{kind}s/{common.quote(name)}"))
        except BerthError as e:
            print(f"Error: {e}", file=sys.stderr)
            status = 1
    if fmt:
        from berth.cli.template import Template

        template = Template(fmt)
        for item in results:
            print(template.render(item))
    else:
        print(json.dumps(results, indent=4))
    return status


def run_network_ls(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    nets = ctx.client.get("/networks", params={"filters": common.filters_param(o["filter"])}) or []
    trunc = not o["no_trunc"]
    rows = []
    for n in sorted(nets, key=lambda n: n.get("Name", "")):
        labels = n.get("Labels") or {}
        rows.append(
            {
                "ID": humanize.short_id(n.get("Id", "")) if trunc else n.get("Id", ""),
                "Name": n.get("Name", ""),
                "Driver": n.get("Driver", ""),
                "Scope": n.get("Scope", ""),
                "IPv6": "true" if n.get("EnableIPv6") else "false",
                "Internal": "true" if n.get("Internal") else "false",
                "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
                "Label": lambda k, labels=labels: labels.get(k, ""),
                "CreatedAt": n.get("Created", ""),
            }
        )
    fmt = (
        "{{.ID}}"
        if o["quiet"]
        else (o["format"] or "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}")
    )
    headers = {
        "ID": "NETWORK ID",
        "Name": "NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "CreatedAt": "CREATED",
    }
    sys.stdout.write(table.render(fmt, rows, headers))
    return 0


def run_network_create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    configs = []
    for i, subnet in enumerate(o["subnet"]):
        cfg = {"Subnet": subnet}
        if i < len(o["gateway"]):
            cfg["Gateway"] = o["gateway"][i]
        if i < len(o["ip_range"]):
            cfg["IPRange"] = o["ip_range"][i]
        configs.append(cfg)
    body = {
        "Name": args[0],
        "CheckDuplicate": True,
        "Driver": o["driver"],
        "Internal": o["internal"],
        "Attachable": o["attachable"],
        "EnableIPv6": o["ipv6"],
        "IPAM": {"Driver": "default", "Config": configs, "Options": {}},
        "Options": common.key_values(o["opt"]),
        "Labels": common.key_values(o["label"]),
    }
    result = ctx.client.post("/networks/create", body=body) or {}
    print(result.get("Id", ""))
    return 0


def run_network_rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth.errors import NotFound

    def remove(name: str) -> None:
        try:
            ctx.client.delete(f"/networks/{common.quote(name)}")
        except NotFound:
            if not o["force"]:
                raise

    return common.for_each(args, remove)


def run_network_inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    return _inspect_many(ctx, "network", args, o["format"])


def run_network_connect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    endpoint: dict[str, Any] = {"Aliases": o["alias"] or None}
    if o["ip"] or o["ip6"]:
        endpoint["IPAMConfig"] = {"IPv4Address": o["ip"] or "", "IPv6Address": o["ip6"] or ""}
    ctx.client.post(
        f"/networks/{common.quote(args[0])}/connect",
        body={"Container": args[1], "EndpointConfig": endpoint},
    )
    return 0


def run_network_disconnect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    ctx.client.post(
        f"/networks/{common.quote(args[0])}/disconnect",
        body={"Container": args[1], "Force": o["force"]},
    )
    return 0


def run_network_prune(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not common.confirm(
        "WARNING! This will remove all custom networks not used by at least one container.",
        o["force"],
    ):
        return 0
    result = (
        ctx.client.post("/networks/prune", params={"filters": common.filters_param(o["filter"])})
        or {}
    )
    deleted = result.get("NetworksDeleted") or []
    if deleted:
        print("Deleted Networks:")
        for name in deleted:
            print(name)
    return 0


def run_volume_ls(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    result = ctx.client.get("/volumes", params={"filters": common.filters_param(o["filter"])}) or {}
    rows = []
    for v in sorted(result.get("Volumes") or [], key=lambda v: v.get("Name", "")):
        labels = v.get("Labels") or {}
        rows.append(
            {
                "Name": v.get("Name", ""),
                "Driver": v.get("Driver", ""),
                "Scope": v.get("Scope", ""),
                "Mountpoint": v.get("Mountpoint", ""),
                "Labels": ",".join(f"{k}={val}" for k, val in labels.items()),
                "Label": lambda k, labels=labels: labels.get(k, ""),
                "Links": "N/A",
                "Size": "N/A",
            }
        )
    fmt = "{{.Name}}" if o["quiet"] else (o["format"] or "table {{.Driver}}\t{{.Name}}")
    headers = {
        "Name": "VOLUME NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS",
        "Links": "LINKS",
        "Size": "SIZE",
    }
    sys.stdout.write(table.render(fmt, rows, headers))
    for warning in result.get("Warnings") or []:
        print(warning, file=sys.stderr)
    return 0


def run_volume_create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    name = o["name"] or (args[0] if args else "")
    if o["name"] and args and args[0] != o["name"]:
        from berth.cli.flags import UsageError

        raise UsageError(
            "conflicting options: either specify --name or provide positional arg, not both", 1
        )
    body = {
        "Name": name,
        "Driver": o["driver"],
        "DriverOpts": common.key_values(o["opt"]),
        "Labels": common.key_values(o["label"]),
    }
    result = ctx.client.post("/volumes/create", body=body) or {}
    print(result.get("Name", ""))
    return 0


def run_volume_rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    return common.for_each(
        args,
        lambda n: ctx.client.delete(
            f"/volumes/{common.quote(n)}", params={"force": o["force"] or None}
        ),
    )


def run_volume_inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    return _inspect_many(ctx, "volume", args, o["format"])


def run_volume_prune(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    if not common.confirm(
        "WARNING! This will remove anonymous local volumes not used by at least one container.",
        o["force"],
    ):
        return 0
    filters = common.parse_filters(o["filter"]) or {}
    if o["all"]:
        filters["all"] = ["true"]
    params = {
        "filters": json.dumps({k: dict.fromkeys(v, True) for k, v in filters.items()})
        if filters
        else None
    }
    result = ctx.client.post("/volumes/prune", params=params) or {}
    deleted = result.get("VolumesDeleted") or []
    if deleted:
        print("Deleted Volumes:")
        for name in deleted:
            print(name)
        print()
    print(f"Total reclaimed space: {humanize.size(result.get('SpaceReclaimed') or 0)}")
    return 0

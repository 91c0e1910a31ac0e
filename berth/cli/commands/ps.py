"""`ps`: its own module so that `berth ps` loads only what listing needs."""

from __future__ import annotations

import sys
import time

from berth.cli import common, humanize, table
from berth.cli.flags import INT, LIST, STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("--format", STR, help="Format output using a custom template")
_FILTER = Flag("-f, --filter", LIST, help="Filter output based on conditions provided")

SPECS: dict[str, Spec] = {
    "ps": Spec(
        "ps [OPTIONS]",
        "List containers",
        [
            Flag("-a, --all", help="Show all containers (default shows just running)"),
            _FILTER,
            _FORMAT,
            Flag("-n, --last", INT, -1, "Show n last created containers (includes all states)"),
            Flag("-l, --latest", help="Show the latest created container (includes all states)"),
            Flag("--no-trunc", help="Don't truncate output"),
            Flag("-q, --quiet", help="Only display container IDs"),
            Flag("-s, --size", help="Display total file sizes"),
        ],
        max_args=0,
    ),
}


PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}


def display_ports(ports: list[dict[str, Any]]) -> str:
    """`0.0.0.0:8080->80/tcp, 443/tcp`, sorted like docker's PORTS column."""
    out = []
    seen = set()
    for p in sorted(
        ports or [], key=lambda p: (p.get("PrivatePort", 0), p.get("Type", ""), p.get("IP", ""))
    ):
        kind = p.get("Type", "tcp")
        if p.get("PublicPort"):
            ip = p.get("IP", "")
            host = f"[{ip}]" if ":" in ip else ip
            text = f"{host}:{p['PublicPort']}->{p['PrivatePort']}/{kind}"
        else:
            text = f"{p.get('PrivatePort')}/{kind}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return ", ".join(out)


def ps_row(c: dict[str, Any], trunc: bool, now: float) -> dict[str, Any]:
    """A container summary as the fields docker's ps template sees."""
    cid = c.get("Id", "")
    command = c.get("Command", "")
    if trunc:
        command = humanize.ellipsis(command, 20)
    names = [n[1:] if n.startswith("/") else n for n in c.get("Names") or []]
    names = [n for n in names if "/" not in n] if trunc else names
    image = c.get("Image", "")
    if trunc and image.startswith("sha256:"):
        image = humanize.short_id(image)
    labels = c.get("Labels") or {}
    size = "0B"
    if "SizeRw" in c or "SizeRootFs" in c:
        size = humanize.size(c.get("SizeRw") or 0, 3)
        size += f" (virtual {humanize.size(c.get('SizeRootFs') or 0, 3)})"
    mounts = [m.get("Name") or m.get("Source", "") for m in c.get("Mounts") or []]
    networks = sorted((c.get("NetworkSettings") or {}).get("Networks") or {})
    from berth.cli.values import Row

    return Row(
        {
            "ID": humanize.short_id(cid) if trunc else cid,
            "Image": image,
            "Command": humanize.go_quote(command),
            "CreatedAt": humanize.go_time(c.get("Created", 0)),
            "RunningFor": humanize.ago(c.get("Created", 0), now),
            "Ports": display_ports(c.get("Ports") or []),
            "State": c.get("State", ""),
            "Status": c.get("Status", ""),
            "Size": size,
            "Names": ",".join(names),
            "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
            "Label": lambda key: labels.get(key, ""),
            "Mounts": ",".join(mounts),
            "Networks": ",".join(networks),
            "LocalVolumes": str(
                sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")
            ),
            "Platform": c.get("ImageManifestDescriptor", {}).get("platform")
            if c.get("ImageManifestDescriptor")
            else None,
        }
    )


def run_ps(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    limit = 1 if o["latest"] else o["last"]
    params = {
        "all": o["all"] or limit != -1 or None,
        "limit": limit if limit != -1 else None,
        # like docker: a --format that shows .Size asks the daemon for sizes
        "size": o["size"]
        or ".Size" in (o["format"] or "")
        or "{{json .}}" in (o["format"] or "")
        or None,
        "filters": common.filters_param(o["filter"]),
    }
    containers = ctx.client.get("/containers/json", params=params) or []
    fmt = o["format"]
    if o["quiet"]:
        fmt = "{{.ID}}"
    elif not fmt:
        fmt = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
        if o["size"]:
            fmt += "\t{{.Size}}"
    now = time.time()
    rows = [ps_row(c, not o["no_trunc"], now) for c in containers]
    sys.stdout.write(table.render(fmt, rows, PS_HEADERS))
    return 0

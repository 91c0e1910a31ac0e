"""`inspect`: its own module so that it loads nothing but the client (every
`inspect` start pays for what this imports; no tables, no template unless -f)."""

from __future__ import annotations

import sys

from berth.cli import common
from berth.cli.flags import STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

SPECS: dict[str, Spec] = {
    "inspect": Spec(
        "inspect [OPTIONS] NAME|ID [NAME|ID...]",
        "Return low-level information on berth objects",
        [
            Flag("-f, --format", STR, help="Format output using a custom template"),
            Flag("-s, --size", help="Display total file sizes if the type is container"),
            Flag("--type", STR, help="Return JSON for specified type"),
        ],
        min_args=1,
    ),
}


def _is(error: BaseException, kind: str) -> bool:
    """`isinstance(error, berth.errors.<kind>)` without loading `berth.errors` when
    every call succeeded (~0.3 ms of start-up): if it is not loaded, no such error
    was raised."""
    errors = sys.modules.get("berth.errors")
    return errors is not None and isinstance(error, getattr(errors, kind))


def _inspect_one(ctx: Context, name: str, kind: str | None, size: bool) -> Any:
    q = common.quote(name)
    attempts = {
        "container": lambda: ctx.client.get(f"/containers/{q}/json", params={"size": size or None}),
        "image": lambda: ctx.client.get(f"/images/{q}/json"),
        "network": lambda: ctx.client.get(f"/networks/{q}"),
        "volume": lambda: ctx.client.get(f"/volumes/{q}"),
        "exec": lambda: ctx.client.get(f"/exec/{q}/json"),
    }
    if kind:
        from berth import errors

        if kind not in attempts:
            raise errors.InvalidArgument(f'"{kind}" is not a valid value for --type')
        try:
            return attempts[kind]()
        except errors.NotFound:
            raise errors.NotFound(f"No such {kind}: {name}") from None
    for k in ("container", "image", "network", "volume"):
        try:
            return attempts[k]()
        except Exception as e:
            if not _is(e, "NotFound"):
                raise
    from berth import errors

    raise errors.NotFound(f"No such object: {name}")


def run_inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import jsoncodec as json

    results = []
    status = 0
    errs = []
    for name in args:
        try:
            results.append(_inspect_one(ctx, name, o["type"], o["size"]))
        except Exception as e:
            if not _is(e, "BerthError"):
                raise
            errs.append(str(e))
            status = 1
    if o["format"]:
        from berth.cli.template import Template, TemplateError

        try:
            template = Template(o["format"].replace("\\n", "\n").replace("\\t", "\t"))
            for item in results:
                sys.stdout.write(template.render(item) + "\n")
        except TemplateError as e:
            print(f"template parsing error: {e}", file=sys.stderr)
            return 1
    else:
        # docker prints the daemon's JSON indented, without HTML escaping
        print(json.dumps(results, indent=4, ensure_ascii=False))
    for err in errs:
        print(f"Error: {err}", file=sys.stderr)
    return status

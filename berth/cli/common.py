"""Small pieces several commands share: filters, key=value lists, multi-object loops."""

from __future__ import annotations

import sys

from berth.cli import flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def quote(name: str) -> str:
    """A name or id as a URL path part."""
    from berth.client.api import quote_path

    return quote_path(name)


def parse_filters(values: list[str]) -> dict[str, list[str]] | None:
    """`--filter status=exited --filter label=a=b` -> {"status": [...], "label": [...]}."""
    if not values:
        return None
    out: dict[str, list[str]] = {}
    for value in values:
        key, eq, rest = value.partition("=")
        if not eq:
            raise flags.UsageError(f"bad format of filter (expected name=value): {value}")
        out.setdefault(key.strip().lower(), []).append(rest)
    return out


def filters_param(values: list[str]) -> str | None:
    """Filters as the API's JSON query value (`{"status":{"exited":true}}` form)."""
    parsed = parse_filters(values)
    if parsed is None:
        return None
    from berth import jsoncodec as json

    return json.dumps({k: dict.fromkeys(v, True) for k, v in parsed.items()})


def key_values(values: list[str]) -> dict[str, str]:
    """`-l a=b -l c` -> {"a": "b", "c": ""}."""
    out = {}
    for value in values:
        key, _, rest = value.partition("=")
        out[key] = rest
    return out


def for_each(names: list[str], action: Callable[[str], Any], echo: bool = True) -> int:
    """Run `action` per object like docker: print each success, report each error, exit 1."""
    from berth.errors import BerthError

    status = 0
    for name in names:
        try:
            result = action(name)
        except BerthError as e:
            prefix = "Error response from daemon: " if hasattr(e, "status") else "Error: "
            print(prefix + str(e), file=sys.stderr)
            status = 1
            continue
        if echo:
            print(result if isinstance(result, str) else name)
    return status


def confirm(message: str, force: bool) -> bool:
    """The `[y/N]` prompt of prune commands (skipped with -f)."""
    if force:
        return True
    sys.stdout.write(f"{message}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def write_binary(data_iter: Any, output: str | None, what: str) -> None:
    """Write a tar stream to `-o FILE` or stdout (refusing a terminal, like docker)."""
    if output:
        with open(output, "wb") as f:
            for piece in data_iter:
                f.write(piece)
        return
    if sys.stdout.isatty():
        raise flags.UsageError(
            f"cowardly refusing to save to a terminal. Use the -o flag or redirect ({what})", 1
        )
    out = sys.stdout.buffer
    for piece in data_iter:
        out.write(piece)
    out.flush()

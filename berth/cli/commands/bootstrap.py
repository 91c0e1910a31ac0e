"""`berth image bootstrap busybox|debian`: base images made with no registry.

berth's own command (docker has none): the daemon builds `busybox:latest` from
the host's Debian busybox-static, or `debian:<suite>` with debootstrap
(minbase) from a Debian mirror, as ordinary one-layer images.
"""

from __future__ import annotations

import sys

from berth.cli.flags import STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

BASES = ("busybox", "debian")

SPECS: dict[str, Spec] = {
    "image bootstrap": Spec(
        "image bootstrap [OPTIONS] busybox|debian",
        "Make a base image on the daemon's host, with no registry",
        [
            Flag("-t, --tag", STR, help="Name and tag (default busybox:latest, debian:SUITE)"),
            Flag("--suite", STR, "bookworm", "Debian suite for the debian base"),
            Flag("--mirror", STR, help="Debian mirror for the debian base"),
        ],
        min_args=1,
        max_args=1,
    ),
}


def run_image_bootstrap(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    base = args[0]
    if base not in BASES:
        print(f'berth: unknown base "{base}": choose one of {", ".join(BASES)}', file=sys.stderr)
        return 1
    params: dict[str, str] = {}
    if o["tag"]:
        params["tag"] = o["tag"]
    if base == "debian":
        params["suite"] = o["suite"]
        if o["mirror"]:
            params["mirror"] = o["mirror"]
    answer = ctx.client.post(f"/berth/images/{base}", params=params, timeout=1800)
    print(answer["Id"])
    return 0

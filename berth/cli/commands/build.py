"""`build`: send a context (a directory tarred honouring .dockerignore, a URL, or
stdin) to `POST /build` and render the stream."""

from __future__ import annotations

import os

from berth.cli import common, progress
from berth.cli.flags import BOOL, LIST, STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

_FORMAT = Flag("--format", STR, help="Format output using a custom template")

SPECS: dict[str, Spec] = {
    "build": Spec(
        "build [OPTIONS] PATH | URL | -",
        "Build an image from a Dockerfile",
        [
            Flag("--build-arg", LIST, help="Set build-time variables"),
            Flag("-f, --file", STR, help="Name of the Dockerfile (default: 'PATH/Dockerfile')"),
            Flag("--force-rm", help="Always remove intermediate containers"),
            Flag("--label", LIST, help="Set metadata for an image"),
            Flag("--network", STR, help="Set the networking mode for the RUN instructions"),
            Flag("--no-cache", help="Do not use cache when building the image"),
            Flag("--platform", STR, help="Set platform if server is multi-platform capable"),
            Flag("--pull", help="Always attempt to pull a newer version of the image"),
            Flag("-q, --quiet", help="Suppress the build output and print image ID on success"),
            Flag("--rm", BOOL, True, "Remove intermediate containers after a successful build"),
            Flag("-t, --tag", LIST, help="Name and optionally a tag in the 'name:tag' format"),
            Flag("--target", STR, help="Set the target build stage to build"),
        ],
        1,
        1,
    ),
}


def run_build(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import jsoncodec as json
    from berth.cli import buildcontext
    from berth.cli.commands.images import file_chunks

    context = args[0]
    params: dict[str, Any] = {
        "t": o["tag"] or None,
        "q": o["quiet"] or None,
        "nocache": o["no_cache"] or None,
        "rm": o["rm"],
        "forcerm": o["force_rm"] or None,
        "pull": o["pull"] or None,
        "target": o["target"],
        "networkmode": o["network"],
        "platform": o["platform"],
        "buildargs": json.dumps(
            dict(
                a.split("=", 1) if "=" in a else (a, os.environ.get(a, "")) for a in o["build_arg"]
            )
        )
        if o["build_arg"]
        else None,
        "labels": json.dumps(common.key_values(o["label"])) if o["label"] else None,
    }
    if context == "-":
        body: Any = file_chunks("-")
        if o["file"]:
            params["dockerfile"] = o["file"]
    elif "://" in context:
        params["remote"] = context
        body = None
        if o["file"]:
            params["dockerfile"] = o["file"]
    else:
        if not os.path.isdir(context):
            raise UsageError(f'unable to prepare context: path "{context}" not found', 1)
        data, dockerfile = buildcontext.pack(context, o["file"])
        params["dockerfile"] = dockerfile
        body = data
    messages = ctx.client.stream_json(
        "POST", "/build", params=params, body=body, headers={"Content-Type": "application/x-tar"}
    )
    aux = progress.render_stream(messages, quiet=o["quiet"])
    image_id = next(
        (a.get("ID") for a in reversed(aux) if isinstance(a, dict) and a.get("ID")), None
    )
    if o["quiet"]:
        # the legacy builder answers q=1 with the id as its only "stream" text
        quiet_text = next(
            (a["quiet_output"] for a in aux if isinstance(a, dict) and "quiet_output" in a), ""
        )
        print(image_id or quiet_text.strip())
    return 0

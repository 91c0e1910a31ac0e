"""`exec`: its own module so that it loads the session code without `run`'s
flag tables (`runopts`: ~100 flags) unless `-e`/`--env-file` need it."""

from __future__ import annotations

import sys

from berth.cli import common, sessions
from berth.cli.flags import LIST, STR, Flag, Spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context

SPECS: dict[str, Spec] = {
    "exec": Spec(
        "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
        "Execute a command in a running container",
        [
            Flag("-d, --detach", help="Detached mode: run command in the background"),
            Flag("--detach-keys", STR, help="Override the key sequence for detaching a container"),
            Flag("-e, --env", LIST, help="Set environment variables"),
            Flag("--env-file", LIST, help="Read in a file of environment variables"),
            Flag("-i, --interactive", help="Keep STDIN open even if not attached"),
            Flag("--privileged", help="Give extended privileges to the command"),
            Flag("-t, --tty", help="Allocate a pseudo-TTY"),
            Flag("-u, --user", STR, help="Username or UID (format: <name|uid>[:<group|gid>])"),
            Flag("-w, --workdir", STR, help="Working directory inside the container"),
        ],
        min_args=2,
        interspersed=False,
    ),
}


def _env(o: dict[str, Any]) -> list[str]:
    if not o["env"] and not o["env_file"]:
        return []
    from berth.cli import runopts

    return runopts.env_list(o["env"], o["env_file"])


def run_exec(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    import time

    client = ctx.client
    if o["tty"] and o["interactive"] and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    key_spec, keys = sessions.detach_keys(o)
    body = {
        "User": o["user"] or "",
        "Privileged": o["privileged"],
        "Tty": o["tty"],
        "AttachStdin": o["interactive"] and not o["detach"],
        "AttachStdout": not o["detach"],
        "AttachStderr": not o["detach"],
        "Detach": o["detach"],
        "DetachKeys": key_spec or "",
        "Env": _env(o),
        "WorkingDir": o["workdir"] or "",
        "Cmd": args[1:],
    }
    created = client.post(f"/containers/{common.quote(args[0])}/exec", body=body)
    eid = created["Id"]
    if o["detach"]:
        client.post(f"/exec/{eid}/start", body={"Detach": True, "Tty": o["tty"]})
        return 0
    conn = client.hijack(f"/exec/{eid}/start", body={"Detach": False, "Tty": o["tty"]})
    try:
        detached = sessions.session(
            client,
            conn,
            stdin=o["interactive"],
            tty=o["tty"],
            keys=keys,
            resize_path=f"/exec/{eid}/resize",
        )
    finally:
        conn.close()
    if detached:
        return 0
    deadline = time.monotonic() + 5
    while True:
        info = client.get(f"/exec/{eid}/json")
        if not info.get("Running") or time.monotonic() > deadline:
            return int(info.get("ExitCode") or 0)
        time.sleep(0.01)

"""Commands that hold a stream open: run, create (pull on 404), start -a, attach, exec.

`run` follows docker's order so no output is lost and `--rm` cannot race the
exit code: create (pulling the image on "No such image"), attach, send `wait`
(condition next-exit, or removed with --rm), start, pump the stream, then read
the wait answer and exit with the container's code.
"""

from __future__ import annotations

import sys

from berth.cli import common, runopts, sessions
from berth.cli.flags import STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from berth.cli.main import Context
    from berth.client.api import Client

SPECS: dict[str, Spec] = {
    "run": Spec(
        "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        "Create and run a new container from an image",
        runopts.FLAGS,
        min_args=1,
        interspersed=False,
    ),
    "create": Spec(
        "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
        "Create a new container",
        [f for f in runopts.FLAGS if f.dest not in ("detach", "rm", "sig_proxy", "detach_keys")]
        + [Flag("--rm", help="Automatically remove the container when it exits")],
        min_args=1,
        interspersed=False,
    ),
    "start": Spec(
        "start [OPTIONS] CONTAINER [CONTAINER...]",
        "Start one or more stopped containers",
        [
            Flag("-a, --attach", help="Attach STDOUT/STDERR and forward signals"),
            Flag("--detach-keys", STR, help="Override the key sequence for detaching a container"),
            Flag("-i, --interactive", help="Attach container's STDIN"),
        ],
        min_args=1,
    ),
    "attach": Spec(
        "attach [OPTIONS] CONTAINER",
        "Attach local standard input, output, and error streams to a running container",
        [
            Flag("--detach-keys", STR, help="Override the key sequence for detaching a container"),
            Flag("--no-stdin", help="Do not attach STDIN"),
            Flag("--sig-proxy", default=True, help="Proxy all received signals to the process"),
        ],
        min_args=1,
        max_args=1,
    ),
}


class CommandFailed(Exception):
    """The container's command could not be started: exit 125, 126 or 127 like docker."""


def start_error_status(message: str) -> int:
    """docker's mapping of a start failure to the CLI's exit code."""
    text = message.lower()
    if "executable file not found" in text or "no such file or directory" in text:
        return 127
    if "permission denied" in text or "is a directory" in text or "exec format error" in text:
        return 126
    return 125


def pull_image(client: Client, ref: str, quiet: bool, out: Any = None) -> None:
    """`POST /images/create?fromImage=` with docker's progress rendering."""
    from berth.cli import progress, refs

    repo, tag = refs.split_tag(ref)
    params = {"fromImage": repo, "tag": tag or ("latest" if "@" not in ref else None)}
    progress.render_stream(client.stream_json("POST", "/images/create", params=params), quiet, out)


def create_container(ctx: Context, o: dict[str, Any], image: str, cmd: list[str]) -> str:
    """Create (pulling on a missing image per `--pull`); return the new container's id."""
    from berth import errors
    from berth.cli import refs

    params, body = runopts.create_body(o, image, cmd)
    client = ctx.client
    if o["pull"] not in ("missing", "always", "never"):
        raise UsageError(
            f'invalid pull option: \'{o["pull"]}\': must be one of "always", "missing" or "never"'
        )
    if o["pull"] == "always":
        pull_image(client, image, o["quiet"], sys.stderr)
    try:
        result = client.post("/containers/create", params=params, body=body)
    except errors.NotFound as e:
        if o["pull"] != "missing" or "image" not in str(e).lower():
            raise
        print(f"Unable to find image '{refs.with_default_tag(image)}' locally", file=sys.stderr)
        pull_image(client, image, o["quiet"], sys.stderr)
        result = client.post("/containers/create", params=params, body=body)
    for warning in result.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr)
    cid = result["Id"]
    if o["cidfile"]:
        with open(o["cidfile"], "x") as f:
            f.write(cid)
    return cid


def run_create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    o.setdefault("detach", False)  # docker create attaches stdout/stderr (and stdin with -i)
    o.setdefault("sig_proxy", True)
    print(create_container(ctx, o, args[0], args[1:]))
    return 0


def run_run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import errors

    image, cmd = args[0], args[1:]
    if o["tty"] and o["interactive"] and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    key_spec, keys = sessions.detach_keys(o)
    client = ctx.client
    cid = create_container(ctx, o, image, cmd)
    path = f"/containers/{cid}"
    if o["detach"]:
        try:
            client.post(f"{path}/start")
        except errors.BerthError as e:
            raise _start_failure(e) from None
        print(cid)
        return 0
    attach = [a.lower() for a in o["attach"]] or ["stdout", "stderr"] + (
        ["stdin"] if o["interactive"] else []
    )
    conn = client.hijack(
        f"{path}/attach",
        params={
            "stream": True,
            "stdin": "stdin" in attach,
            "stdout": "stdout" in attach,
            "stderr": "stderr" in attach,
            "detachKeys": key_spec,
        },
    )
    waiter = client.begin(
        "POST", f"{path}/wait", {"condition": "removed" if o["rm"] else "next-exit"}
    )
    waiter.wait_head()
    if o["sig_proxy"] and not o["tty"]:
        sessions.proxy_signals(client, cid)

    def start() -> None:
        try:
            client.post(f"{path}/start")
        except errors.BerthError as e:
            conn.close()
            waiter.close()
            raise _start_failure(e) from None

    try:
        detached = sessions.session(
            client,
            conn,
            stdin="stdin" in attach,
            tty=o["tty"],
            keys=keys,
            resize_path=f"{path}/resize",
            start=start,
        )
    finally:
        conn.close()
    if detached:
        waiter.close()
        return 0
    try:
        result = waiter.result() or {}
    finally:
        waiter.close()
    if (result.get("Error") or {}).get("Message"):
        print(f"berth: {result['Error']['Message']}", file=sys.stderr)
    return int(result.get("StatusCode", 0))


def _start_failure(e: Exception) -> Exception:
    """Wrap a start error so `main.report` prints it with docker's exit code."""
    status = start_error_status(str(e))
    e.exit_code = status  # type: ignore[attr-defined]
    return e


def run_start(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import errors

    client = ctx.client
    if not (o["attach"] or o["interactive"]):

        def start(name: str) -> None:
            try:
                client.post(f"/containers/{common.quote(name)}/start")
            except errors.NotModified:
                pass

        return common.for_each(args, start)
    if len(args) > 1:
        raise UsageError("you cannot start and attach multiple containers at once", 1)
    key_spec, keys = sessions.detach_keys(o)
    info = client.get(f"/containers/{common.quote(args[0])}/json")
    cid, tty = info["Id"], bool(info["Config"].get("Tty"))
    stdin = o["interactive"] and bool(info["Config"].get("OpenStdin"))
    path = f"/containers/{cid}"
    conn = client.hijack(
        f"{path}/attach",
        params={
            "stream": True,
            "stdin": stdin,
            "stdout": True,
            "stderr": True,
            "detachKeys": key_spec,
        },
    )
    waiter = client.begin("POST", f"{path}/wait", {"condition": "next-exit"})
    waiter.wait_head()
    try:
        detached = sessions.session(
            client,
            conn,
            stdin=stdin,
            tty=tty,
            keys=keys,
            resize_path=f"{path}/resize",
            start=lambda: client.post(f"{path}/start"),
        )
    finally:
        conn.close()
    if detached:
        waiter.close()
        return 0
    try:
        return int((waiter.result() or {}).get("StatusCode", 0))
    finally:
        waiter.close()


def run_attach(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    client = ctx.client
    info = client.get(f"/containers/{common.quote(args[0])}/json")
    state = info.get("State") or {}
    if not state.get("Running"):
        print("You cannot attach to a stopped container, start it first", file=sys.stderr)
        return 1
    if state.get("Paused"):
        print("You cannot attach to a paused container, unpause it first", file=sys.stderr)
        return 1
    key_spec, keys = sessions.detach_keys(o)
    cid, tty = info["Id"], bool(info["Config"].get("Tty"))
    stdin = not o["no_stdin"] and bool(info["Config"].get("OpenStdin"))
    path = f"/containers/{cid}"
    conn = client.hijack(
        f"{path}/attach",
        params={
            "stream": True,
            "stdin": stdin,
            "stdout": True,
            "stderr": True,
            "detachKeys": key_spec,
        },
    )
    if o["sig_proxy"] and not tty:
        sessions.proxy_signals(client, cid)
    try:
        detached = sessions.session(
            client, conn, stdin=stdin, tty=tty, keys=keys, resize_path=f"{path}/resize"
        )
    finally:
        conn.close()
    if detached:
        return 0
    result = client.post(f"{path}/wait") or {}
    return int(result.get("StatusCode", 0))

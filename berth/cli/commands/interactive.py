"""Commands that hold a stream open: run, create (pull on 404), start -a, attach, exec.

`run` follows docker's order so no output is lost and `--rm` cannot race the
exit code: create (pulling the image on "No such image"), attach, send `wait`
(condition next-exit, or removed with --rm), start, pump the stream, then read
the wait answer and exit with the container's code.
"""

from __future__ import annotations

import os
import sys

from berth.cli import common, runopts, streams
from berth.cli.flags import LIST, STR, Flag, Spec, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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


def _detach_keys(o: dict[str, Any]) -> tuple[str | None, bytes]:
    spec = o.get("detach_keys") or os.environ.get("BERTH_DETACH_KEYS") or None
    try:
        return spec, streams.parse_detach_keys(spec or streams.DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _proxy_signals(client: Client, cid: str) -> None:
    """Forward SIGINT/SIGTERM/SIGHUP... to the container (docker's --sig-proxy)."""
    import _signal as signal  # not `signal`: it imports enum (~3 ms)

    def forward(signum: int, _frame: object) -> None:
        try:
            client.post(f"/containers/{common.quote(cid)}/kill", params={"signal": str(signum)})
        except Exception:
            pass

    for sig in (
        signal.SIGINT,
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
    ):
        signal.signal(sig, forward)


def _session(
    client: Client,
    conn: Any,
    *,
    stdin: bool,
    tty: bool,
    keys: bytes,
    resize_path: str,
    start: Any = None,
) -> bool:
    """Start (if given), then relay the stream; raw mode and resizes with a terminal."""
    # cleanups run last-first on the way out, as an ExitStack's would (contextlib
    # itself costs every exec and run ~3 ms of imports: collections, functools)
    undo: list[Callable[[], object]] = []
    try:
        if start is not None:
            start()
        if tty and sys.stdout.isatty():
            undo.append(
                streams.watch_resize(
                    lambda h, w: client.post(resize_path, params={"h": h, "w": w}),
                    sys.stdout.fileno(),
                )
            )
        if tty and stdin and sys.stdin.isatty():
            import _signal as signal  # not `signal`: it imports enum (~3 ms)

            # a SIGTERM/SIGHUP must unwind through RawTerminal, or the user's
            # terminal is left in raw mode
            for sig in (signal.SIGTERM, signal.SIGHUP):
                previous = signal.signal(sig, lambda n, _f: sys.exit(128 + n))
                undo.append(lambda sig=sig, previous=previous: signal.signal(sig, previous))
            raw = streams.RawTerminal(sys.stdin.fileno())
            raw.__enter__()
            undo.append(lambda: raw.__exit__(None, None, None))
        return streams.pump(conn, stdin=stdin, tty=tty, detach_keys=keys)
    finally:
        _unwind(undo)


def _unwind(undo: list[Callable[[], object]]) -> None:
    """Run every cleanup, last first; the first failure is raised after all ran."""
    error: BaseException | None = None
    while undo:
        try:
            undo.pop()()
        except BaseException as e:
            error = error or e
    if error is not None:
        raise error


def run_run(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from berth import errors

    image, cmd = args[0], args[1:]
    if o["tty"] and o["interactive"] and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    key_spec, keys = _detach_keys(o)
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
        _proxy_signals(client, cid)

    def start() -> None:
        try:
            client.post(f"{path}/start")
        except errors.BerthError as e:
            conn.close()
            waiter.close()
            raise _start_failure(e) from None

    try:
        detached = _session(
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
    key_spec, keys = _detach_keys(o)
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
        detached = _session(
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
    key_spec, keys = _detach_keys(o)
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
        _proxy_signals(client, cid)
    try:
        detached = _session(
            client, conn, stdin=stdin, tty=tty, keys=keys, resize_path=f"{path}/resize"
        )
    finally:
        conn.close()
    if detached:
        return 0
    result = client.post(f"{path}/wait") or {}
    return int(result.get("StatusCode", 0))


def run_exec(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    import time

    client = ctx.client
    if o["tty"] and o["interactive"] and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    key_spec, keys = _detach_keys(o)
    body = {
        "User": o["user"] or "",
        "Privileged": o["privileged"],
        "Tty": o["tty"],
        "AttachStdin": o["interactive"] and not o["detach"],
        "AttachStdout": not o["detach"],
        "AttachStderr": not o["detach"],
        "Detach": o["detach"],
        "DetachKeys": key_spec or "",
        "Env": runopts.env_list(o["env"], o["env_file"]),
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
        detached = _session(
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

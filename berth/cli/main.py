"""`berth`: global options, then one command, importing only that command's module.

Start-up cost is the point of this file's shape: the table below maps names to
modules as strings, so `berth ps` imports the client and `commands.ps`
and nothing else (no argparse, no http.client, no dataclasses).

Exit codes follow docker: 125 for a usage or daemon error in `run`/`create`
(and for any unknown flag), 1 for other daemon errors, 126/127 when the
container's command cannot run or is not found, otherwise the container's code.
"""

from __future__ import annotations

import sys

from berth.cli import flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.client.api import Client

# command name -> module under berth.cli.commands holding SPECS[name] and run_<name>
COMMANDS: dict[str, str] = {
    **dict.fromkeys(
        ("run", "create", "start", "attach"),
        "interactive",
    ),
    **dict.fromkeys(
        (
            "stop", "restart", "kill", "rm", "logs", "top", "wait", "rename",
            "pause", "unpause", "diff", "export", "cp", "port", "update",
            "commit", "container prune",
        ),
        "containers",
    ),
    **dict.fromkeys(
        (
            "images", "rmi", "tag", "history", "save", "load", "import", "image prune",
        ),
        "images",
    ),
    **dict.fromkeys(
        (
            "pull", "push", "login", "logout", "search", "manifest inspect",
            "registry serve", "registry garbage-collect",
        ),
        "registry",
    ),
    "build": "build",
    "stats": "stats",
    **dict.fromkeys(
        ("version", "info", "events", "system df", "system prune"),
        "system",
    ),
    "inspect": "inspect",
    "ps": "ps",
    "exec": "execute",
    "image bootstrap": "bootstrap",
    **dict.fromkeys(
        (
            "network ls", "network create", "network rm", "network inspect",
            "network connect", "network disconnect", "network prune",
            "volume ls", "volume create", "volume rm", "volume inspect", "volume prune",
        ),
        "resources",
    ),
}  # fmt: skip

# management forms -> the top-level command they are
ALIASES: dict[str, str] = {
    "container ls": "ps", "container list": "ps", "container ps": "ps",
    "container rm": "rm", "container remove": "rm", "image ls": "images",
    "image list": "images", "image rm": "rmi", "image remove": "rmi",
    "image inspect": "inspect", "container inspect": "inspect",
    "network list": "network ls", "volume list": "volume ls",
    "network remove": "network rm", "volume remove": "volume rm",
    "system info": "info", "system events": "events", "builder build": "build",
    "image build": "build", "image import": "import", "image load": "load",
    "image save": "save", "image pull": "pull", "image push": "push",
    "image tag": "tag", "image history": "history", "container export": "export",
    "image prune": "image prune", "container prune": "container prune",
}  # fmt: skip
for _name in (
    "run", "create", "start", "attach", "exec", "stop", "restart", "kill", "logs",
    "top", "wait", "rename", "pause", "unpause", "diff", "cp", "port", "update",
    "stats", "commit",
):  # fmt: skip
    ALIASES[f"container {_name}"] = _name

GROUPS = {"container", "image", "network", "volume", "system", "builder", "manifest", "registry"}

GLOBAL = flags.Spec(
    "[OPTIONS] COMMAND [ARG...]",
    "A self-sufficient runtime for containers",
    [
        flags.Flag("-H, --host", flags.STR, help="Daemon socket to connect to"),
        flags.Flag("-D, --debug", help="Enable debug mode"),
        flags.Flag("-l, --log-level", flags.STR, "info", "Set the logging level"),
        flags.Flag("--tls", help="Use TLS; implied by --tlsverify"),
        flags.Flag("--tlsverify", help="Use TLS and verify the remote"),
        flags.Flag("--tlscacert", flags.STR, help="Trust certs signed only by this CA"),
        flags.Flag("--tlscert", flags.STR, help="Path to TLS certificate file"),
        flags.Flag("--tlskey", flags.STR, help="Path to TLS key file"),
        flags.Flag("--config", flags.STR, help="Location of client config files"),
        flags.Flag("-c, --context", flags.STR, help="Ignored (berth has no contexts)"),
        flags.Flag("-v, --version", help="Print version information and quit"),
    ],
    interspersed=False,
)


class Context:
    """What a command gets: its global options and a lazily made client."""

    def __init__(self, opts: dict[str, object]) -> None:
        self.opts = opts
        self._client: Client | None = None
        self.out = sys.stdout
        self.err = sys.stderr

    @property
    def client(self) -> Client:
        if self._client is None:
            from berth.client.api import Client
            from berth.client.wire import TLSConfig

            o = self.opts
            tls = None
            if o["tls"] or o["tlsverify"] or o["tlscacert"] or o["tlscert"]:
                import os

                certs = os.environ.get("BERTH_CERT_PATH") or os.path.expanduser("~/.berth")
                tls = TLSConfig(
                    verify=bool(o["tlsverify"]),
                    ca=o["tlscacert"]
                    or (os.path.join(certs, "ca.pem") if o["tlsverify"] else None),  # type: ignore[arg-type]
                    cert=o["tlscert"] or None,  # type: ignore[arg-type]
                    key=o["tlskey"] or None,  # type: ignore[arg-type]
                )
            self._client = Client(host=o["host"] or None, tls=tls)  # type: ignore[arg-type]
        return self._client


def _usage_error(e: flags.UsageError, name: str, spec: flags.Spec | None) -> int:
    """Docker's three shapes: bad flag (125), bad argument count (1), unknown command (1)."""
    usage = f"\n\nUsage:  berth {spec.usage}" if spec else ""
    where = f"berth {name}".strip()
    if getattr(e, "unknown_command", False):
        print(f"berth: {e}\n\nRun 'berth --help' for more information", file=sys.stderr)
    elif e.status == 1:
        print(f"berth: {e}{usage}\n\nSee '{where} --help' for more information", file=sys.stderr)
    else:
        print(f"{e}{usage}\n\nRun '{where} --help' for more information", file=sys.stderr)
    return e.status


def _unknown(command: str) -> flags.UsageError:
    error = flags.UsageError(f"unknown command: berth {command}", 1)
    error.unknown_command = True  # type: ignore[attr-defined]
    return error


def _top_help() -> str:
    names = sorted({n for n in COMMANDS if " " not in n})
    return (
        "\nUsage:  berth [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
        "Commands:\n"
        + "".join(f"  {n}\n" for n in names)
        + "\nManagement Commands:\n"
        + "".join(f"  {g}\n" for g in sorted(GROUPS))
        + "\n"
        + GLOBAL.help_text().split("\n", 4)[-1]
    )


def _group_help(group: str) -> str:
    names = sorted({n.split(" ", 1)[1] for n in (*COMMANDS, *ALIASES) if n.startswith(group + " ")})
    return (
        f"\nUsage:  berth {group} COMMAND\n\nManage {group}s\n\nCommands:\n"
        + "".join(f"  {n}\n" for n in names)
        + f"\nRun 'berth {group} COMMAND --help' for more information on a command.\n"
    )


def resolve(args: list[str]) -> tuple[str, list[str]]:
    """`container ls -a` -> ("ps", ["-a"]); `ps -a` -> ("ps", ["-a"])."""
    first = args[0]
    if first in GROUPS:
        if len(args) < 2 or args[1] in ("-h", "--help"):
            raise flags.HelpRequested(_group_help(first))
        if args[1].startswith("-"):
            raise flags.UsageError(f"unknown flag: {args[1]}")
        name = f"{first} {args[1]}"
        rest = args[2:]
        name = ALIASES.get(name, name)
        if name not in COMMANDS:
            raise _unknown(f"{first} {args[1]}")
        return name, rest
    if first not in COMMANDS:
        raise _unknown(first)
    return first, args[1:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, args = flags.parse(GLOBAL, argv)
    except flags.HelpRequested:
        sys.stdout.write(_top_help())
        return 0
    except flags.UsageError as e:
        return _usage_error(e, "", GLOBAL)
    if opts["version"]:
        from berth import __version__

        print(f"berth version {__version__}")
        return 0
    if not args:
        sys.stdout.write(_top_help())
        return 0
    ctx = Context(opts)
    spec: flags.Spec | None = None
    name = args[0]
    try:
        try:
            name, rest = resolve(args)
        except flags.HelpRequested as e:
            sys.stdout.write(str(e))
            return 0
        # __import__ rather than importlib.import_module: the `importlib` package
        # is one more module to load at start-up
        module = __import__(f"berth.cli.commands.{COMMANDS[name]}", fromlist=["SPECS"])
        spec = module.SPECS[name]
        try:
            values, positional = flags.parse(spec, rest)
        except flags.HelpRequested:
            sys.stdout.write(spec.help_text())
            return 0
        flags.check_args(spec, name, positional)
        func = getattr(module, "run_" + name.replace(" ", "_").replace("-", "_"))
        return int(func(ctx, values, positional) or 0)
    except flags.UsageError as e:
        return _usage_error(e, name, spec)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `berth ps | head -1`: the reader left; silence the flush at exit too
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:
        from berth.errors import BerthError

        # a TemplateError needs the template engine loaded: don't load it to ask
        template = sys.modules.get("berth.cli.template")
        if template is not None and isinstance(e, template.TemplateError):
            print(f"template parsing error: {e}", file=sys.stderr)
            return 125 if name in STATUS_125 else 1
        if not isinstance(e, BerthError):
            raise
        return report(e, name)


# commands whose daemon errors exit 125, like docker's run/create
STATUS_125 = {"run", "create"}


def report(error: Exception, name: str) -> int:
    """Print a daemon or connection error as docker does; return the exit code."""
    from berth.errors import Unavailable

    status = getattr(error, "status", None)
    if status is None and isinstance(error, Unavailable):
        print(str(error), file=sys.stderr)
        return 125 if name in STATUS_125 else 1
    if getattr(error, "plain", False):
        text = str(error)
    elif status is not None:
        text = f"Error response from daemon: {error}"
    else:
        text = f"Error: {error}"
    if name in STATUS_125:
        print(f"berth: {text}\n\nRun 'berth {name} --help' for more information", file=sys.stderr)
        return getattr(error, "exit_code", 125)
    print(text, file=sys.stderr)
    return getattr(error, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(main())

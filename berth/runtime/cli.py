"""`berth-runc`: runc's command line over berth's runtime.

    berth-runc [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND ...

Each verb is thin: parse its flags, make one call into the runtime, render.
Errors print one line (runc's logrus format, or the bare message when --log
takes the record) and exit 1. Argument parsing is hand-rolled: berth-runc's
start-up time is part of every container start, and argparse costs more to
import than the whole parse.
"""

from __future__ import annotations

import os
import sys

from berth.errors import BerthError, InvalidArgument

DEFAULT_ROOT = "/run/berth-runc"
VERSION = "0.1.0"

# flag -> (canonical name, takes a value, repeatable)
_GLOBAL = {
    "--root": ("root", True),
    "--log": ("log", True),
    "--log-format": ("log_format", True),
    "--systemd-cgroup": ("systemd_cgroup", False),
    "--debug": ("debug", False),
    "--criu": ("criu", True),
    "--rootless": ("rootless", True),
}
_CREATE = {
    "--bundle": ("bundle", True),
    "-b": ("bundle", True),
    "--pid-file": ("pid_file", True),
    "--console-socket": ("console_socket", True),
    "--no-pivot": ("no_pivot", False),
    "--no-new-keyring": ("no_new_keyring", False),
    "--preserve-fds": ("preserve_fds", True),
}
_COMMANDS = {
    "spec": {
        "--bundle": ("bundle", True),
        "-b": ("bundle", True),
        "--rootless": ("rootless", False),
    },
    "create": _CREATE,
    "run": {
        **_CREATE,
        "--detach": ("detach", False),
        "-d": ("detach", False),
        "--keep": ("keep", False),
    },
    "start": {},
    "state": {},
    "kill": {"--all": ("all", False), "-a": ("all", False)},
    "delete": {"--force": ("force", False), "-f": ("force", False)},
    "pause": {},
    "resume": {},
    "ps": {"--format": ("format", True), "-f": ("format", True)},
    "list": {
        "--quiet": ("quiet", False),
        "-q": ("quiet", False),
        "--format": ("format", True),
        "-f": ("format", True),
    },
    "exec": {
        "--process": ("process", True),
        "-p": ("process", True),
        "--console-socket": ("console_socket", True),
        "--pid-file": ("pid_file", True),
        "--detach": ("detach", False),
        "-d": ("detach", False),
        "--tty": ("tty", False),
        "-t": ("tty", False),
        "--cwd": ("cwd", True),
        "--env": ("env", True),
        "-e": ("env", True),
        "--user": ("user", True),
        "-u": ("user", True),
        "--additional-gids": ("additional_gids", True),
        "-g": ("additional_gids", True),
        "--cap": ("cap", True),
        "-c": ("cap", True),
        "--no-new-privs": ("no_new_privs", False),
        "--preserve-fds": ("preserve_fds", True),
        "--process-label": ("process_label", True),
        "--apparmor": ("apparmor", True),
        "--ignore-paused": ("ignore_paused", False),
        "--cgroup": ("cgroup", True),
    },
    "features": {},
    "update": {
        "--resources": ("resources", True),
        "-r": ("resources", True),
        "--memory": ("memory", True),
        "--memory-reservation": ("memory_reservation", True),
        "--memory-swap": ("memory_swap", True),
        "--cpu-shares": ("cpu_shares", True),
        "--cpu-quota": ("cpu_quota", True),
        "--cpu-period": ("cpu_period", True),
        "--cpuset-cpus": ("cpuset_cpus", True),
        "--cpuset-mems": ("cpuset_mems", True),
        "--pids-limit": ("pids_limit", True),
        "--blkio-weight": ("blkio_weight", True),
    },
}
_REPEATABLE = frozenset({"env", "cap", "additional_gids"})


class Usage(InvalidArgument):
    """Wrong command line: runc says "Incorrect Usage" and exits 1 too."""


def parse_flags(
    args: list[str], table: dict, stop_after: int | None = None
) -> tuple[dict, list[str]]:
    """Flags (anywhere, `--f=v`, `--f v`) and positionals; after `stop_after`
    positionals everything is positional (exec's command line)."""
    flags: dict = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if stop_after is not None and len(positional) >= stop_after:
            positional.append(arg)
            continue
        if arg == "--":
            positional.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name not in table and name.startswith("--") is False and len(name) > 2:
            name, value, eq = name[:2], name[2:], "="  # -bDIR
        if name not in table:
            raise Usage(f"flag provided but not defined: {name}")
        key, takes_value = table[name]
        if takes_value:
            if not eq:
                if i >= len(args):
                    raise Usage(f"flag needs an argument: {name}")
                value = args[i]
                i += 1
            if key in _REPEATABLE:
                flags.setdefault(key, []).append(value)
            else:
                flags[key] = value
        else:
            flags[key] = value.lower() not in ("false", "0") if eq else True
    return flags, positional


def _one_id(command: str, positional: list[str], extra: int = 0) -> str:
    if not positional:
        raise Usage(f'"{command}" requires a minimum of 1 argument(s)')
    if len(positional) > 1 + extra:
        raise Usage(f'"{command}" requires a maximum of {1 + extra} argument(s)')
    return positional[0]


def _print_json(value: object) -> None:
    from berth.runtime.jsonc import dumps_indented

    sys.stdout.write(dumps_indented(value) + "\n")


# ---- verbs ------------------------------------------------------------------------------


def cmd_spec(root: str, flags: dict, positional: list[str]) -> int:
    import json

    from berth.errors import Conflict
    from berth.runtime.example import example_config

    path = os.path.join(flags.get("bundle", "."), "config.json")
    if os.path.exists(path):
        raise Conflict(f"File {path} exists. Remove it first")
    with open(path, "w") as f:
        json.dump(example_config(rootless=flags.get("rootless", False)), f, indent="\t")
    return 0


def cmd_create(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime.cgroups import warm

    warm.begin()  # first (cgroup v2 hosts: the grace period passes while we import)
    try:
        from berth.runtime import container

        cid = _check_id("create", positional)
        container.create(
            root,
            cid,
            flags.get("bundle", "."),
            flags.get("pid_file"),
            flags.get("console_socket"),
            preserve_fds=_count(flags.get("preserve_fds", "0")),
            new_keyring=not flags.get("no_new_keyring", False),
        )
    finally:
        warm.end()  # create ends it once the init is in its cgroup; this is for errors
    return 0


def cmd_run(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime.cgroups import warm

    warm.begin()  # first (cgroup v2 hosts: the grace period passes while we import)
    try:
        from berth.runtime import runner

        cid = _check_id("run", positional)
        return runner.run(
            root,
            cid,
            flags.get("bundle", "."),
            flags.get("pid_file"),
            flags.get("console_socket"),
            flags.get("detach", False),
            _count(flags.get("preserve_fds", "0")),
        )
    finally:
        warm.end()  # create ends it once the init is in its cgroup; this is for errors


def _count(text: str) -> int:
    if not text.isdigit():
        raise Usage(f"invalid --preserve-fds value {text!r}")
    return int(text)


def _check_id(command: str, positional: list[str]) -> str:
    from berth.runtime.paths import check_id

    return check_id(_one_id(command, positional))


def cmd_start(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    container.start(root, _check_id("start", positional))
    return 0


def cmd_state(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime.container import Container

    c = Container.load(root, _check_id("state", positional))
    _print_json(_runc_state(c, c.status()))
    return 0


def _runc_state(c, status) -> dict:
    from berth.runtime.lifecycle import Status

    st = c.state
    out = {
        "ociVersion": "1.0.2",
        "id": st.id,
        "pid": st.pid if status is not Status.STOPPED else 0,
        "status": status.value,
        "bundle": st.bundle,
        "rootfs": st.rootfs,
        "created": st.created,
        "owner": st.owner,
    }
    if st.annotations:
        out["annotations"] = st.annotations
    return out


def cmd_kill(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    cid = _one_id("kill", positional, extra=1)
    signum = container.parse_signal(positional[1] if len(positional) > 1 else "SIGTERM")
    container.kill(root, _check_id("kill", [cid]), signum, flags.get("all", False))
    return 0


def cmd_delete(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    if not positional:
        raise Usage('"delete" requires a minimum of 1 argument(s)')
    for cid in positional:
        container.delete(root, _check_id("delete", [cid]), force=flags.get("force", False))
    return 0


def cmd_pause(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    container.pause(root, _check_id("pause", positional))
    return 0


def cmd_resume(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    container.resume(root, _check_id("resume", positional))
    return 0


def cmd_ps(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    pids = container.processes(root, _check_id("ps", positional))
    fmt = flags.get("format", "table")
    if fmt == "json":
        from berth.runtime.jsonc import dumps

        sys.stdout.write(dumps(pids) + "\n")
        return 0
    if fmt != "table":
        raise InvalidArgument(f"invalid format option {fmt!r}")
    import subprocess

    lines = subprocess.run(["ps", "-ef"], capture_output=True, text=True, check=True).stdout
    header, *rows = lines.splitlines()
    sys.stdout.write(header + "\n")
    wanted = {str(p) for p in pids}
    for row in rows:
        fields = row.split()
        if len(fields) > 1 and fields[1] in wanted:
            sys.stdout.write(row + "\n")
    return 0


def cmd_list(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime import container

    entries = container.list_all(root)
    if flags.get("quiet"):
        for c, _ in entries:
            sys.stdout.write(c.state.id + "\n")
        return 0
    if flags.get("format") == "json":
        _print_json([_runc_state(c, s) for c, s in entries])
        return 0
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for c, s in entries:
        st = c.state
        rows.append(
            (
                st.id,
                str(st.pid if s.value != "stopped" else 0),
                s.value,
                st.bundle,
                st.created,
                st.owner,
            )
        )
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(6)]
    for r in rows:
        sys.stdout.write(
            "".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n"
        )
    return 0


def cmd_exec(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime.cgroups import warm

    warm.begin()  # first (cgroup v2 hosts: the grace period passes while we import)
    try:
        return _exec(root, flags, positional)
    finally:
        warm.end()  # execute ends it once the process is in the cgroup; this is for errors


def _exec(root: str, flags: dict, positional: list[str]) -> int:
    from berth.runtime.container import Container
    from berth.runtime.execute import execute

    if not positional:
        raise Usage('"exec" requires a minimum of 1 argument(s)')
    cid = _check_id("exec", positional[:1])
    if "process" in flags:
        from berth.oci.spec import Process
        from berth.runtime.jsonc import load_file

        process = Process.from_dict(load_file(flags["process"]), flags["process"])
    else:
        if len(positional) < 2:
            raise Usage("exec: a command to run is required (or --process)")
        process = _process_from_flags(
            Container.load(root, cid).spec().process, flags, positional[1:]
        )
    return execute(
        root,
        cid,
        process,
        flags.get("console_socket"),
        flags.get("pid_file"),
        flags.get("detach", False),
        _count(flags.get("preserve_fds", "0")),
    )


def _process_from_flags(base, flags: dict, args: list[str]):
    """runc's exec flags applied over the container's own process."""
    from berth.oci.spec import Capabilities, User, replace

    user = base.user
    if "user" in flags:
        uid, _, gid = flags["user"].partition(":")
        user = User(uid=int(uid), gid=int(gid) if gid else 0)
    if "additional_gids" in flags:
        user = replace(user, additional_gids=[int(g) for g in flags["additional_gids"]])
    capabilities = base.capabilities
    if "cap" in flags:
        c = capabilities or Capabilities()
        more = list(flags["cap"])
        capabilities = Capabilities(
            bounding=c.bounding + more,
            effective=c.effective + more,
            inheritable=c.inheritable,
            permitted=c.permitted + more,
            ambient=c.ambient + more,
        )
    return replace(
        base,
        args=args,
        env=[*base.env, *flags.get("env", [])],
        cwd=flags.get("cwd", base.cwd),
        terminal=flags.get("tty", False),
        user=user,
        capabilities=capabilities,
        no_new_privileges=base.no_new_privileges or flags.get("no_new_privs", False),
    )


_UPDATE_FLAGS = {
    # flag key -> (resources section, field, kind)
    "memory": ("memory", "limit", "bytes"),
    "memory_reservation": ("memory", "reservation", "bytes"),
    "memory_swap": ("memory", "swap", "bytes"),
    "cpu_shares": ("cpu", "shares", "int"),
    "cpu_quota": ("cpu", "quota", "int"),
    "cpu_period": ("cpu", "period", "int"),
    "cpuset_cpus": ("cpu", "cpus", "str"),
    "cpuset_mems": ("cpu", "mems", "str"),
    "pids_limit": ("pids", "limit", "int"),
    "blkio_weight": ("blockIO", "weight", "int"),
}


def _bytes(text: str) -> int:
    """ "512m", "1g", "1048576", "-1" as a number of bytes."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    t = text.strip().lower().removesuffix("b")
    try:
        if t and t[-1] in units:
            return int(float(t[:-1]) * units[t[-1]])
        return int(t)
    except ValueError:
        raise Usage(f"invalid size {text!r}") from None


def cmd_update(root: str, flags: dict, positional: list[str]) -> int:
    import json

    from berth.runtime import container

    cid = _check_id("update", positional)
    resources: dict = {}
    if "resources" in flags:
        source = flags["resources"]
        try:
            if source == "-":
                resources = json.load(sys.stdin)
            else:
                with open(source) as f:
                    resources = json.load(f)
        except ValueError as e:
            raise InvalidArgument(f"{source}: invalid JSON: {e}") from None
    for key, (section, field, kind) in _UPDATE_FLAGS.items():
        if key in flags:
            text = flags[key]
            if kind == "bytes":
                value: object = _bytes(text)
            elif kind == "int":
                if not text.lstrip("-").isdigit():
                    raise Usage(f"invalid value {text!r} for --{key.replace('_', '-')}")
                value = int(text)
            else:
                value = text
            resources.setdefault(section, {})[field] = value
    container.update(root, cid, resources)
    return 0


def cmd_features(root: str, flags: dict, positional: list[str]) -> int:
    from berth.linux import namespaces
    from berth.runtime import mountopts

    _print_json(
        {
            "ociVersionMin": "1.0.0",
            "ociVersionMax": "1.1.0",
            "hooks": [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop",
            ],
            "mountOptions": [
                *sorted(mountopts.PROPAGATION),
                "bind",
                "rbind",
                "ro",
                "rw",
                "nosuid",
                "nodev",
                "noexec",
            ],
            "linux": {
                "namespaces": sorted(namespaces.FLAGS),
                "cgroup": {"v1": True, "v2": True, "systemd": False},
                "seccomp": {"enabled": True},
            },
        }
    )
    return 0


_VERBS = {
    "spec": cmd_spec,
    "create": cmd_create,
    "run": cmd_run,
    "start": cmd_start,
    "state": cmd_state,
    "kill": cmd_kill,
    "delete": cmd_delete,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "ps": cmd_ps,
    "list": cmd_list,
    "exec": cmd_exec,
    "features": cmd_features,
    "update": cmd_update,
}


# ---- errors and the entry point ---------------------------------------------------------


def _report(message: str, log_file: str | None, log_format: str) -> None:
    import time

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    message = " ".join(message.split("\n"))
    if log_file:
        if log_format == "json":
            import json

            line = json.dumps({"level": "error", "msg": message, "time": stamp})
        else:
            line = f'time="{stamp}" level=error msg="{message}"'
        try:
            with open(log_file, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass
        sys.stderr.write(message + "\n")
    else:
        escaped = message.replace('"', '\\"')
        sys.stderr.write(f'time="{stamp}" level=error msg="{escaped}"\n')


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. With `argv` given (tests, the shim's
    in-process calls) this returns. Without, it is the real command line, and
    the process ends here: the interpreter's orderly shutdown (tearing down every
    module, class and dict the run imported) costs a few milliseconds that
    nothing needs, since every file this process wrote is closed and its
    children are reaped or detached by then."""
    if argv is not None:
        return dispatch(argv)
    # A run lives a few dozen milliseconds and makes no reference cycles worth
    # collecting; the collector would spend milliseconds walking the freshly
    # imported modules and classes instead.
    import gc

    gc.disable()
    code = dispatch(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's exit would hit too
            code = code or 120
    os._exit(code)


def dispatch(args: list[str]) -> int:
    """Parse global flags, then dispatch to a verb; errors become one line and 1."""
    globals_: dict = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        name, eq, value = args[i].partition("=")
        if name in ("--version", "-v"):
            sys.stdout.write(f"berth-runc version {VERSION}\nspec: 1.0.2\n")
            return 0
        if name in ("--help", "-h"):
            sys.stdout.write(__doc__ or "")
            return 0
        if name not in _GLOBAL:
            break
        key, takes_value = _GLOBAL[name]
        if takes_value and not eq:
            i += 1
            value = args[i] if i < len(args) else ""
        globals_[key] = value if takes_value else True
        i += 1
    root = os.path.abspath(globals_.get("root") or DEFAULT_ROOT)
    log_file = globals_.get("log")
    log_format = globals_.get("log_format", "text")
    try:
        if i >= len(args):
            raise Usage("no command given; try --help")
        command = args[i]
        if command not in _VERBS:
            raise Usage(f"No help topic for '{command}'")
        flags, positional = parse_flags(
            args[i + 1 :], _COMMANDS[command], stop_after=1 if command == "exec" else None
        )
        return _VERBS[command](root, flags, positional)
    except BerthError as e:
        _report(str(e), log_file, log_format)
    except OSError as e:
        _report(e.strerror if e.filename is None and e.strerror else str(e), log_file, log_format)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug, but still one line, as runc never prints a trace
        _report(f"{type(e).__name__}: {e}", log_file, log_format)
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Calling a runc-compatible runtime's command line from the shim.

The shim knows only the CLI contract (runc's, which berth-runc, runc and crun
share): ``RUNTIME --root R --log L --log-format json <command> ...``. Each call
is a posix_spawn with explicit stdio; `run` waits for it, `spawn` returns the
pid so the shim's event loop can go on while, say, `exec` starts.

When the runtime is berth's own `berth-runc` (its launcher runs
`berth.runtime.cli.main` from this very berth), a call is a forked child of the
shim that calls that `main` with the same argv instead: no new interpreter and
no imports (the zygote has loaded the runtime's modules), so a shim's `exec`
takes about half the time it takes with a freshly executed `berth-runc`. Seen from outside it is the same: a child with
fds 0-2 as given and nothing else open, default signal dispositions as a fresh
Python has them, comm ``berth-runc``, its exit code the CLI's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
from dataclasses import dataclass

# Python (and the shim) ignore these; the container must start with the defaults,
# and ignored signals would survive the runtime's exec.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class Runtime:
    """One container's runtime command line: where it is, its root, its log."""

    path: str
    root: str
    log: str  # the runtime's own log (errors land there in JSON)
    id: str
    in_process: bool = False  # berth-runc: call its CLI in a forked child (module doc)

    def argv(self, *args: str) -> list[str]:
        return [self.path, "--root", self.root, "--log", self.log, "--log-format", "json", *args]

    def create_argv(self, bundle: str, pid_file: str, console: str | None) -> list[str]:
        extra = ["--console-socket", console] if console else []
        return self.argv("create", "--bundle", bundle, "--pid-file", pid_file, *extra, self.id)

    def exec_argv(self, process_file: str, pid_file: str, console: str | None) -> list[str]:
        extra = ["--console-socket", console] if console else []
        return self.argv(
            "exec", "--process", process_file, "--pid-file", pid_file, "--detach", *extra, self.id
        )

    def spawn(self, argv: list[str], stdio: tuple[int, int, int] | None = None) -> int:
        """Start the runtime with fds 0, 1, 2 from `stdio` (default /dev/null); its pid."""
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            fds = stdio or (null, null, null)
            if self.in_process and runtime_preloaded():
                return _fork_cli(argv[1:], fds)
            actions = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(fds)]
            return os.posix_spawn(
                argv[0], argv, os.environ, file_actions=actions, setsigdef=_RESET_SIGNALS
            )
        finally:
            os.close(null)

    def run(self, argv: list[str], stdio: tuple[int, int, int] | None = None) -> None:
        """Run the runtime to completion; raise RuntimeFailed with its message on failure."""
        self.check(self.wait(self.spawn(argv, stdio)), argv[7] if len(argv) > 7 else argv[0])

    @staticmethod
    def wait(pid: int) -> int:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                return status
            except InterruptedError:
                continue

    def check(self, status: int, what: str) -> None:
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeFailed(f"runtime {what} failed: {self.last_error() or f'exit {code}'}")

    def last_error(self) -> str:
        """The last error-level message of the runtime's log, if any."""
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - 65536))
                lines = f.read().splitlines()
        except FileNotFoundError:
            return ""
        for raw in reversed(lines):
            try:
                rec = json.loads(raw)
            except ValueError:
                if raw.strip():
                    return raw.decode(errors="replace").strip()
                continue
            if isinstance(rec, dict) and rec.get("level") in ("error", "fatal"):
                return str(rec.get("msg", ""))
        return ""


# ---- berth-runc in a forked child ----------------------------------------------------------

# What the zygote imports so that a forked `berth-runc` call imports nothing:
# every module of these packages (but `__main__`) and these modules. A module
# imported later inside a function is imported in the child (slower, still right).
RUNTIME_PACKAGES = ("berth.runtime",)
RUNTIME_MODULES = ("berth.oci.spec",)

_LAUNCHER_IMPORT = re.compile(rb"^from berth\.runtime\.cli import main\s*$", re.M)
_PYTHON = re.compile(rb"python[0-9.]*$")
_LAUNCHER_PATH = re.compile(rb"^sys\.path\.insert\(0, \"([^\"]+)\"\)\s*$", re.M)


def runs_this_berth(path: str) -> bool:
    """Whether the runtime at `path` is a launcher of this berth's `berth-runc`: a
    Python script importing `berth.runtime.cli.main` from the same package as the
    shim (its `sys.path.insert` names our source tree, or, without one, it runs
    under our interpreter). Anything else (runc, crun, a wrapper) is executed."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    shebang = head.split(b"\n", 1)[0][2:].split() if head.startswith(b"#!") else []
    if not shebang or not _PYTHON.match(os.path.basename(shebang[0])):
        return False
    if not _LAUNCHER_IMPORT.search(head):
        return False
    inserted = _LAUNCHER_PATH.search(head)
    if inserted:
        ours = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        return os.path.realpath(os.fsdecode(inserted.group(1))) == os.path.realpath(ours)
    return os.path.abspath(os.fsdecode(shebang[0])) == os.path.abspath(sys.executable)


_loaded: list[tuple[tuple[str, int], ...]] = []  # (source, mtime) at preload_runtime


def preload_runtime() -> None:
    """Import berth-runc's modules (the zygote does, before it forks shims)."""
    import importlib

    # Never fatal: a module that fails to import here fails (or not) in the child,
    # exactly as it would in an executed berth-runc.
    names = list(RUNTIME_MODULES)
    for package in RUNTIME_PACKAGES:
        with contextlib.suppress(Exception):
            names += _submodules(package, importlib.import_module(package).__path__)
    for name in names:
        if not name.endswith(".__main__"):
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    sources = [
        getattr(module, "__file__", None)
        for name, module in list(sys.modules.items())
        if name == "berth" or name.startswith("berth.")
    ]
    _loaded[:] = [_mtimes(sorted(path for path in sources if path))]


def _submodules(package: str, paths) -> list[str]:
    """The modules under a package's directories (pkgutil would import `inspect`)."""
    names = []
    for base in paths:
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(
                d for d in dirnames if os.path.exists(os.path.join(dirpath, d, "__init__.py"))
            )
            rel = os.path.relpath(dirpath, base)
            prefix = package if rel == "." else f"{package}.{rel.replace(os.sep, '.')}"
            for stem in sorted(f[:-3] for f in filenames if f.endswith(".py")):
                names.append(prefix if stem == "__init__" else f"{prefix}.{stem}")
    return names


def runtime_preloaded() -> bool:
    """Whether the runtime's code in memory is what is on disk: preloaded, and no
    berth source loaded then has changed since (an upgrade in place). Otherwise the
    runtime is executed, so that it runs the current code."""
    return bool(_loaded) and _mtimes(path for path, _ in _loaded[0]) == _loaded[0]


def _mtimes(paths) -> tuple[tuple[str, int], ...]:
    out = []
    for path in paths:
        try:
            out.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            out.append((path, 0))
    return tuple(out)


def _fork_cli(args: list[str], stdio: tuple[int, int, int]) -> int:
    """`berth-runc ARGS` as a forked child calling `berth.runtime.cli.main`; its pid."""
    import gc

    from berth.runtime import cli

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # nothing buffered is written twice
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # Never collect: a finalizer of the shim's garbage could close an fd number
        # the runtime has reused since (we close the shim's fds below).
        gc.disable()
        _become_runtime(stdio)
        code = cli.main(args)
    except SystemExit as e:  # as the interpreter maps sys.exit(arg) to a status
        code = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    except BaseException:  # a bug in the runtime: a trace on its stderr, as a fresh one would
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()  # as the command line's main does before it exits
            except (OSError, ValueError):
                code = code or 120
        os._exit(code)


def _become_runtime(stdio: tuple[int, int, int]) -> None:
    """In the child: the process state a freshly executed berth-runc starts with."""
    from berth.linux.process import set_name

    signal.set_wakeup_fd(-1)
    # What spawn + exec would leave: handlers reset (exec) and _RESET_SIGNALS at
    # their defaults (setsigdef), other ignored signals still ignored; then what
    # Python does as it starts: SIGPIPE and SIGXFSZ ignored, SIGINT raising
    # KeyboardInterrupt.
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            handler = signal.getsignal(sig)
            if sig in _RESET_SIGNALS or callable(handler):
                signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    # posix_spawn's DUP2 actions: `stdio` onto 0, 1, 2 (moved out of the way first,
    # since one of them may itself be 0, 1 or 2); then only 0-2 stay open.
    high = [os.dup(fd) for fd in stdio]
    for n, fd in enumerate(high):
        os.dup2(fd, n)
    os.closerange(3, 1 << 20)
    # sys.std* as a fresh interpreter has them, on the new fds 0-2 (the caller's
    # may be anything, a test runner's capture for one)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", errors="backslashreplace", closefd=False)  # noqa: SIM115
    with contextlib.suppress(OSError):
        set_name("berth-runc")


class RuntimeFailed(Exception):
    """The runtime exited non-zero; the message is its own."""

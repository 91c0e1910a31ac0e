"""Calling a runc-compatible runtime's command line from the shim.

The shim knows only the CLI contract (runc's, which berth-runc, runc and crun
share): ``RUNTIME --root R --log L --log-format json <command> ...``. Each call
is a posix_spawn with explicit stdio; `run` waits for it, `spawn` returns the
pid so the shim's event loop can go on while, say, `exec` starts.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass

# Python (and the shim) ignore these; the container must start with the defaults,
# and ignored signals would survive the runtime's exec.
_RESET_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class Runtime:
    path: str
    root: str
    log: str  # the runtime's own log (errors land there in JSON)
    id: str

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


class RuntimeFailed(Exception):
    """The runtime exited non-zero; the message is its own."""

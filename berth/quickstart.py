"""`python -m berth.quickstart`: the README's main job.

Starts berthd on its default socket (unless one already answers there), makes
the embedded `busybox:latest` image from Debian's busybox-static with
`berth image bootstrap busybox`, and runs a container with `berth run`. The
daemon keeps running afterwards, so `berth run -it busybox sh` works next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SOCKET = Path("/run/berth/berth.sock")
LOG = Path("/var/log/berthd.log")
COMMAND = "echo hello from berth; uname -sr; id; hostname"


def _tool(name: str) -> str:
    script = Path(sys.executable).parent / name
    return str(script) if script.exists() else name


def _berth(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    print("+ berth " + " ".join(args), flush=True)
    return subprocess.run([_tool("berth"), *args], check=check)


def _daemon_answers() -> bool:
    probe = [_tool("berth"), "version", "--format", "{{.Server.Version}}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def start_daemon(deadline_s: float = 30.0) -> None:
    if SOCKET.exists() and _daemon_answers():
        print(f"berthd already answers on {SOCKET}")
        return
    print(f"+ berthd (log: {LOG})", flush=True)
    log = open(LOG, "ab")  # noqa: SIM115 - handed to the daemon, which outlives us
    subprocess.Popen(
        [_tool("berthd")],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if SOCKET.exists() and _daemon_answers():
            return
        time.sleep(0.1)
    raise SystemExit(f"quickstart: berthd did not answer within {deadline_s:.0f}s; see {LOG}")


def main() -> int:
    if os.geteuid() != 0:
        print("quickstart: run as root (berthd needs namespaces, mounts, cgroups)", file=sys.stderr)
        return 1
    start_daemon()
    _berth("image", "bootstrap", "busybox")
    _berth("images")
    result = _berth("run", "--rm", "busybox", "sh", "-c", COMMAND, check=False)
    print("\nberthd keeps running; try: berth run -it busybox sh   (Ctrl-P Ctrl-Q detaches)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())

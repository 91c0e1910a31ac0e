"""The hot commands import no heavy module: every `berth` start pays for what they load.

`ps`, `inspect`, `images`, `exec` and `run` are run in a fresh `python -S` (as the
installed launcher does) against a small canned Engine API on a unix socket;
the test then lists which of the modules known to cost milliseconds were loaded.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HEAVY = {
    "json", "re", "argparse", "http.client", "email", "dataclasses", "enum", "typing",
    "inspect", "importlib.util", "collections", "socket", "ssl", "urllib.parse", "shlex",
    "datetime", "tempfile", "threading", "subprocess", "functools", "ast", "os",
    "contextlib", "berth.cli.template", "berth.errors", "berth.cli.runopts",
}  # fmt: skip

CID = "0123456789ab" + "c" * 52
LIST = [
    {
        "Id": CID,
        "Names": ["/quiet_one"],
        "Image": "busybox",
        "ImageID": "sha256:" + "e" * 64,
        "Command": "sleep 100",
        "Created": 1_700_000_000,
        "Ports": [],
        "Labels": {},
        "State": "running",
        "Status": "Up 2 minutes",
        "HostConfig": {"NetworkMode": "none"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    }
]
INSPECT = {"Id": CID, "Name": "/quiet_one", "Config": {"Env": ["A=é"]}, "State": {"Pid": 7}}
IMAGES = [
    {
        "Id": "sha256:" + "e" * 64,
        "RepoTags": ["busybox:latest"],
        "RepoDigests": [],
        "Created": 1_700_000_000,
        "Size": 2_000_000,
        "Containers": -1,
        "Labels": None,
        "ParentId": "",
        "SharedSize": -1,
    }
]


def _answer(method: str, path: str) -> tuple[int, object]:
    path = path.split("?", 1)[0].split("/", 2)[-1]  # drop /v1.43
    if method == "POST" and path == "containers/quiet_one/exec":
        return 201, {"Id": "e1"}
    if method == "POST" and path == "exec/e1/start":
        return 101, None  # hijacked: the stream ends when the connection closes
    if path == "exec/e1/json":
        return 200, {"Running": False, "ExitCode": 0}
    if method == "POST" and path == "containers/create":
        return 201, {"Id": CID, "Warnings": []}
    if method == "POST" and path == f"containers/{CID}/attach":
        return 101, None
    if method == "POST" and path == f"containers/{CID}/wait":
        return 200, {"StatusCode": 0}
    if method == "POST" and path == f"containers/{CID}/start":
        return 204, None
    if path == "containers/json":
        return 200, LIST
    if path in (f"containers/{CID}/json", "containers/quiet_one/json"):
        return 200, INSPECT
    if path == "images/json":
        return 200, IMAGES
    return 404, {"message": f"No such object: {path}"}


@pytest.fixture
def api(tmp_path: Path):
    """A one-thread Engine API stand-in on a unix socket: GETs from canned documents."""
    path = str(tmp_path / "api.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(65536)
                    if not piece:
                        break
                    data += piece
                if not data:
                    continue
                method, target = data.decode("latin-1").split(" ", 2)[:2]
                status, doc = _answer(method, target)
                if status == 101:
                    conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\n\r\n")
                    continue
                body = b"" if doc is None else json.dumps(doc).encode()
                conn.sendall(
                    b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body)
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield "unix://" + path
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        server.close()
        thread.join(5)


def _run(host: str, args: list[str]) -> tuple[str, list[str]]:
    code = (
        f"import sys; sys.path[0] = {str(REPO)!r}\n"
        "from berth.cli.main import main\n"
        f"rc = main({args!r})\n"
        "sys.stdout.flush()\n"
        f"heavy = sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules)\n"
        "print('HEAVY', ','.join(heavy), rc, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env={"BERTH_HOST": host, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY"), proc.stderr
    _, heavy, rc = last.split(" ")
    assert rc == "0", proc.stderr
    return proc.stdout, [m for m in heavy.split(",") if m]


def test_ps_a_loads_no_heavy_module_and_prints_docker_columns(api: str) -> None:
    out, heavy = _run(api, ["ps", "-a"])
    assert heavy == []
    header, row = out.splitlines()
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]  # fmt: skip
    assert row.startswith("0123456789ab   busybox ")
    assert row.endswith("quiet_one")
    assert '"sleep 100"' in row


def test_ps_q_loads_no_heavy_module(api: str) -> None:
    out, heavy = _run(api, ["ps", "-q"])
    assert heavy == []
    assert out == "0123456789ab\n"


def test_inspect_loads_no_heavy_module_and_prints_indented_json(api: str) -> None:
    out, heavy = _run(api, ["inspect", "quiet_one"])
    assert heavy == []
    assert out == json.dumps([INSPECT], indent=4, ensure_ascii=False) + "\n"


def test_images_loads_no_heavy_module(api: str) -> None:
    out, heavy = _run(api, ["images"])
    assert heavy == []
    header, row = out.splitlines()
    assert header.split()[:2] == ["REPOSITORY", "TAG"]
    assert row.split()[:3] == ["busybox", "latest", "e" * 12]


def test_exec_loads_no_heavy_module_beyond_os(api: str) -> None:
    out, heavy = _run(api, ["exec", "quiet_one", "true"])
    assert heavy == ["os"]  # the terminal and stream code needs it
    assert out == ""


def test_run_loads_no_heavy_module_beyond_os(api: str) -> None:
    # attached, so the signal proxy is installed too (through _signal, not signal/enum)
    out, heavy = _run(api, ["run", "--rm", "busybox", "true"])
    assert heavy == ["berth.cli.runopts", "berth.errors", "os"]  # run's flags; error kinds
    assert out == ""

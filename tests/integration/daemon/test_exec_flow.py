"""exec as the docker CLI drives it (inspect, exec create, start hijacked, exec
inspect) on the default runtime, whose calls the shim forks rather than
executes: flags, exit codes, separate streams, a tty, and a detached exec whose
exit code the daemon learns by waiting on the shim (no polling)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.poll import poll
from tests.support.unixhttp import request

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def sleeper(berthd):
    name = f"xf-{uuid.uuid4().hex[:8]}"
    berthd.docker("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "600")
    try:
        yield name
    finally:
        berthd.docker("rm", "-f", name, check=False)


def test_exit_code_and_separate_streams(berthd, sleeper):
    res = berthd.docker(
        "exec", sleeper, "sh", "-c", "echo to-out; echo to-err >&2; exit 42", check=False
    )
    assert res.returncode == 42
    assert (res.stdout, res.stderr) == ("to-out\n", "to-err\n")
    assert berthd.docker("exec", sleeper, "true").returncode == 0
    assert berthd.docker("exec", sleeper, "false", check=False).returncode == 1


def test_env_user_workdir(berthd, sleeper):
    out = berthd.docker(
        "exec", "-e", "GREETING=hi there", "-u", "1000:1001", "-w", "/tmp", sleeper,
        "sh", "-c", 'echo "$GREETING"; id -u; id -g; pwd',
    ).stdout  # fmt: skip
    assert out.splitlines() == ["hi there", "1000", "1001", "/tmp"]


def test_stdin(berthd, sleeper):
    res = berthd.docker("exec", "-i", sleeper, "sh", "-c", "tr a-z A-Z", input="piped in\n")
    assert res.stdout == "PIPED IN\n"


def test_a_program_that_cannot_start_is_126_with_the_reason(berthd, sleeper):
    # as dockerd 20.10: the reason comes down the stream (stdout), the code is 126
    for program, reason in (("/no/such/program", "no such file"), ("/etc/passwd", "denied")):
        res = berthd.docker("exec", sleeper, program, check=False)
        assert res.returncode == 126
        assert res.stdout.startswith("OCI runtime exec failed: ")
        assert program in res.stdout and reason in res.stdout
    res = berthd.docker("exec", "-t", sleeper, "/no/such/program", check=False)
    assert res.returncode == 126 and "/no/such/program" in res.stdout
    res = berthd.docker("exec", "-u", "nosuchuser", sleeper, "id", check=False)
    assert res.returncode == 126 and "nosuchuser" in res.stdout


def test_detached_exec_reports_its_exit_code(berthd, sleeper):
    sock = str(berthd.sock)
    status, created = request(
        sock, "POST", f"/containers/{sleeper}/exec",
        {"Cmd": ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 5"]},
    )  # fmt: skip
    assert status == 201
    exec_id = created["Id"]
    status, _ = request(sock, "POST", f"/exec/{exec_id}/start", {"Detach": True})
    assert status == 200
    status, doc = request(sock, "GET", f"/exec/{exec_id}/json")
    assert status == 200 and doc["Running"] is True and doc["ExitCode"] is None
    assert doc["Pid"] > 0
    berthd.docker("exec", sleeper, "touch", "/tmp/go")
    assert poll(lambda: request(sock, "GET", f"/exec/{exec_id}/json")[1]["Running"] is False, 30)
    status, doc = request(sock, "GET", f"/exec/{exec_id}/json")
    assert doc["ExitCode"] == 5

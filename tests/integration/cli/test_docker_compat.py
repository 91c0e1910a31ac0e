"""berth's CLI and the real docker CLI on the same engine print the same things."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.docker

DOCKER = shutil.which("docker")


def docker(
    engine, *args: str, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    return subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        input=input,
        env=engine.env(),
        timeout=timeout,
    )


def same(engine, *args: str) -> str:
    ours = engine.run(*args)
    theirs = docker(engine, *args)
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), (
        ours.stderr,
        theirs.stderr,
    )
    return ours.stdout


CLOCK_FIELDS = ("RunningFor", "Status", "CreatedSince")  # may tick between the two calls


def same_json(engine, *args: str) -> None:
    """Same JSON lines, keys in the same order, ignoring the fields that read the clock."""
    ours, theirs = engine.run(*args), docker(engine, *args)
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    a = [json.loads(line) for line in ours.stdout.splitlines()]
    b = [json.loads(line) for line in theirs.stdout.splitlines()]
    assert [list(x) for x in a] == [list(x) for x in b]
    for x in (*a, *b):
        for key in CLOCK_FIELDS:
            x.pop(key, None)
    assert a == b


def test_listings_match(engine, name: str) -> None:
    engine.ok(
        "run", "-d", "--name", name, "-l", "k=v", "busybox", "sh", "-c", 'sleep 1000; echo "quoted"'
    )
    try:
        same(
            engine,
            "ps",
            "-a",
            "--format",
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Names}}\t{{.Labels}}",
        )
        same(engine, "ps", "--no-trunc", "--format", "{{.ID}} {{.Command}} {{.State}}")
        same(engine, "ps", "-q")
        same(engine, "images", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}")
        same(engine, "images", "-q")
        same(
            engine,
            "inspect",
            "--format",
            "{{.Name}} {{json .Config.Cmd}} {{.Config.Labels}} {{.State.Running}}",
            name,
        )
        same(
            engine,
            "inspect",
            "--format",
            "{{range .Config.Env}}{{.}};{{end}} {{len .Config.Env}}",
            name,
        )
        same(engine, "exec", name, "echo", "hi")
        same(engine, "logs", name)
        same(engine, "top", name)
        same(engine, "system", "df")
        same_json(engine, "ps", "--format", "{{json .}}")
        same_json(engine, "ps", "--format", "json")
        same_json(engine, "images", "--format", "json")
        same(
            engine,
            "images",
            "--digests",
            "--format",
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}",
        )
    finally:
        engine.ok("rm", "-f", name)


def test_exit_codes_match(engine) -> None:
    for args in (
        ("run", "--rm", "busybox", "sh", "-c", "exit 42"),
        ("run", "--rm", "busybox", "nosuchcmd"),
        ("run", "--rm", "busybox", "/etc/passwd"),
        ("run", "--bogus-flag", "busybox"),
        ("rm", "no-such-container-cli"),
        ("stop", "no-such-container-cli"),
    ):
        ours = engine.run(*args)
        theirs = docker(engine, *args, timeout=20)
        assert ours.returncode == theirs.returncode, (args, ours.stderr, theirs.stderr)


def test_run_output_matches(engine) -> None:
    same(
        engine,
        "run",
        "--rm",
        "-e",
        "X=1",
        "-w",
        "/etc",
        "busybox",
        "sh",
        "-c",
        "pwd; echo $X; id -u",
    )
    ours = engine.run("run", "--rm", "-i", "busybox", "cat", input="piped\n")
    assert (
        ours.stdout == docker(engine, "run", "--rm", "-i", "busybox", "cat", input="piped\n").stdout
    )

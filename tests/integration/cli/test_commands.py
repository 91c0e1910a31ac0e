"""berth's commands against a real engine: output columns, short ids, exit codes."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from pathlib import Path

import pytest

from berth.client.api import Client
from tests.support.poll import wait_until

pytestmark = pytest.mark.docker


def test_exit_codes_follow_docker(engine) -> None:
    assert engine.run("run", "--rm", "busybox", "true").returncode == 0
    assert engine.run("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    missing = engine.run("run", "--rm", "busybox", "nosuchcmd")
    assert missing.returncode == 127, missing.stderr
    not_exec = engine.run("run", "--rm", "busybox", "/etc/passwd")
    assert not_exec.returncode == 126, not_exec.stderr
    bad_flag = engine.run("run", "--no-such-flag", "busybox")
    assert bad_flag.returncode == 125
    assert bad_flag.stderr.startswith("unknown flag: --no-such-flag")
    no_args = engine.run("rm")
    assert no_args.returncode == 1 and "requires at least 1 argument" in no_args.stderr


def test_unknown_image_is_pulled_then_fails_125(engine) -> None:
    # a registry on a closed local port: the pull fails fast and never leaves the host
    result = engine.run("run", "--rm", "127.0.0.1:9/nosuch/image:1")
    assert result.returncode == 125
    assert "Unable to find image '127.0.0.1:9/nosuch/image:1' locally" in result.stderr
    never = engine.run("run", "--pull", "never", "--rm", "nosuch-image-cli")
    assert never.returncode == 125 and "No such image" in never.stderr


def test_stdin_is_piped_and_half_closed(engine) -> None:
    result = engine.run("run", "-i", "--rm", "busybox", "cat", input="hi\nthere\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\nthere\n"
    counted = engine.run("run", "-i", "--rm", "busybox", "wc", "-c", input="x" * 100000)
    assert counted.stdout.strip() == "100000"


def test_stdout_and_stderr_stay_separate(engine) -> None:
    result = engine.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_detached_lifecycle(engine, name: str) -> None:
    cid = engine.ok(
        "run", "-d", "--name", name, "-l", "suite=cli", "busybox", "sleep", "1000"
    ).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    lines = engine.ok("ps", "--filter", f"name={name}").splitlines()
    assert lines[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert lines[1].startswith(cid[:12] + '   busybox   "sleep 1000"')
    assert re.search(r"\bUp (Less than a second|\d+ seconds?)\b", lines[1])
    assert lines[1].endswith(name)
    assert engine.ok("ps", "-q", "--filter", f"name={name}").strip() == cid[:12]
    assert engine.ok("ps", "-q", "--no-trunc", "--filter", "label=suite=cli").split() == [cid]
    assert (
        engine.ok(
            "ps", "--format", '{{.Names}} {{.Label "suite"}} {{.State}}', "--filter", f"id={cid}"
        )
        == f"{name} cli running\n"
    )

    assert engine.ok("pause", name).strip() == name
    assert "(Paused)" in engine.ok("ps", "--filter", f"name={name}")
    assert engine.ok("unpause", name).strip() == name
    assert engine.ok("exec", name, "echo", "inside") == "inside\n"
    assert engine.run("exec", name, "sh", "-c", "exit 4").returncode == 4
    top = engine.ok("top", name).splitlines()
    assert "PID" in top[0] and any("sleep 1000" in line for line in top[1:])

    assert engine.ok("stop", "-t", "1", name).strip() == name
    state = engine.ok("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name).split()
    assert state[0] == "false" and state[1] in ("137", "143")
    assert re.search(r"Exited \((137|143)\)", engine.ok("ps", "-a", "--filter", f"name={name}"))
    assert engine.ok("stop", name).strip() == name  # already stopped: still success
    assert engine.ok("start", name).strip() == name
    assert engine.ok("restart", "-t", "1", name).strip() == name
    assert engine.ok("kill", name).strip() == name
    assert engine.ok("wait", name).strip() == "137"

    renamed = name + "-b"
    engine.ok("rename", name, renamed)
    assert engine.ok("inspect", "--format", "{{.Name}}", renamed).strip() == "/" + renamed
    assert engine.ok("rm", renamed).strip() == renamed
    gone = engine.run("rm", renamed)
    assert gone.returncode == 1
    assert gone.stderr.strip() == f"Error response from daemon: No such container: {renamed}"


def test_rm_running_needs_force(engine, name: str) -> None:
    engine.ok("run", "-d", "--name", name, "busybox", "sleep", "1000")
    refused = engine.run("rm", name)
    assert refused.returncode == 1 and "Error response from daemon" in refused.stderr
    assert engine.ok("rm", "-f", name).strip() == name


def test_logs_streams_tail_and_timestamps(engine, name: str) -> None:
    engine.ok("run", "--name", name, "busybox", "sh", "-c", "echo one; echo two; echo three >&2")
    # the log writer may still be draining the pipes when `run` returns
    logs = wait_until(
        lambda: (r := engine.run("logs", name)).stderr == "three\n" and r, what="complete logs"
    )
    assert logs.stdout == "one\ntwo\n"
    # stdout and stderr are separate pipes: their order in the log is not fixed
    tail = engine.run("logs", "--tail", "1", name)
    assert (tail.stdout + tail.stderr) in ("one\n", "two\n", "three\n")
    stamped = engine.ok("logs", "-t", name).splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one$", stamped[0])
    engine.ok("rm", name)


def test_inspect_format_and_type(engine, name: str) -> None:
    engine.ok("create", "--name", name, "-e", "A=1", "-w", "/tmp", "busybox", "echo", "x")
    data = json.loads(engine.ok("inspect", name))
    assert data[0]["Name"] == "/" + name and "A=1" in data[0]["Config"]["Env"]
    assert (
        engine.ok("inspect", "--format", "{{json .Config.Cmd}} {{.Config.WorkingDir}}", name)
        == '["echo","x"] /tmp\n'
    )
    assert (
        engine.ok("inspect", "--type", "image", "--format", "{{index .RepoTags 0}}", "busybox")
        == "busybox:latest\n"
    )
    missing = engine.run("inspect", "no-such-object-cli")
    assert missing.returncode == 1 and "No such object: no-such-object-cli" in missing.stderr
    assert engine.ok("container", "inspect", "-f", "{{.State.Status}}", name) == "created\n"
    broken = engine.run("ps", "-a", "--format", "{{.Names")
    assert broken.returncode == 1 and broken.stderr.startswith("template parsing error:")
    engine.ok("container", "rm", name)


def test_cp_diff_export(engine, name: str, tmp_path: Path) -> None:
    engine.ok("run", "--name", name, "busybox", "sh", "-c", "echo made > /made.txt")
    src = tmp_path / "in.txt"
    src.write_text("from host\n")
    engine.ok("cp", str(src), f"{name}:/tmp/")
    engine.ok("cp", f"{name}:/made.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "made\n"
    engine.ok("cp", f"{name}:/tmp/in.txt", str(tmp_path))
    assert (tmp_path / "in.txt").read_text() == "from host\n"
    diff = engine.ok("diff", name).splitlines()
    assert "A /made.txt" in diff and "A /tmp/in.txt" in diff
    out = tmp_path / "fs.tar"
    engine.ok("export", "-o", str(out), name)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"bin/busybox", "made.txt"} <= {n.lstrip("./") for n in names}
    engine.ok("rm", name)


def test_images_tag_history_save_load_rmi(engine, tmp_path: Path) -> None:
    lines = engine.ok("images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    busy = [line for line in lines if line.startswith("busybox ")]
    assert busy and re.match(r"busybox\s+latest\s+[0-9a-f]{12}\s+", busy[0])
    engine.ok("tag", "busybox", "cli-copy:v1")
    assert (
        engine.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "cli-copy") == "cli-copy:v1\n"
    )
    history = engine.ok("history", "cli-copy:v1").splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    archive = tmp_path / "img.tar"
    engine.ok("save", "-o", str(archive), "cli-copy:v1")
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
    removed = engine.ok("rmi", "cli-copy:v1")
    assert "Untagged: cli-copy:v1" in removed
    assert engine.ok("images", "-q", "cli-copy") == ""
    loaded = engine.ok("load", "-i", str(archive))
    assert "cli-copy:v1" in loaded
    engine.ok("image", "rm", "cli-copy:v1")


def test_import_from_stdin(engine, busybox_rootfs: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox_rootfs / "bin", arcname="bin")
    result = engine.run("import", "-", "cli-imported:1", input=buf.getvalue())
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(rb"sha256:[0-9a-f]{64}\n", result.stdout)
    assert engine.run("run", "--rm", "cli-imported:1", "/bin/echo", "ok").stdout == "ok\n"
    engine.ok("rmi", "cli-imported:1")


def test_version_info_events_df(engine, name: str) -> None:
    version = engine.ok("version")
    assert version.startswith("Client:\n Version:") and "\nServer:" in version
    assert engine.ok("version", "--format", "{{.Client.Version}}").strip()
    info = engine.ok("info")
    assert re.search(r" Containers: \d+\n  Running: \d+", info)
    since = str(int(time.time()) - 1)
    engine.ok("run", "--rm", "--name", name, "busybox", "true")
    until = str(int(time.time()) + 1)
    events = engine.ok(
        "events", "--since", since, "--until", until, "--filter", f"container={name}"
    )
    actions = [line.split()[2] for line in events.splitlines()]
    assert "create" in actions and "start" in actions and "die" in actions
    df = engine.ok("system", "df").splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert df[1].startswith("Images ")


def test_management_forms(engine, name: str) -> None:
    engine.ok("container", "create", "--name", name, "busybox", "sh")
    assert name in engine.ok("container", "ls", "-a", "--format", "{{.Names}}").split()
    assert "busybox" in engine.ok("image", "ls", "--format", "{{.Repository}}").split()
    engine.ok("container", "rm", name)
    unknown = engine.run("container", "frobnicate")
    assert unknown.returncode == 1


def test_client_library_negotiates_version(engine) -> None:
    client = Client(engine.host)
    assert client.api_version() in ("1.41", "1.42", "1.43")
    assert any("busybox:latest" in (i.get("RepoTags") or []) for i in client.get("/images/json"))

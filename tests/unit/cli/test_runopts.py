"""run/create flags become the Engine API create body docker would send."""

from __future__ import annotations

import pytest

from berth.cli import flags, runopts
from berth.cli.commands.interactive import SPECS, start_error_status


def body_for(argv: list[str]) -> tuple[dict, dict, list[str]]:
    o, args = flags.parse(SPECS["run"], argv)
    params, body = runopts.create_body(o, args[0], args[1:])
    return params, body, args


def test_interactive_tty_shell() -> None:
    params, body, _ = body_for(["-it", "--name", "seed", "busybox", "sh"])
    assert params["name"] == "seed"
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh"]
    assert body["Tty"] and body["OpenStdin"] and body["StdinOnce"] and body["AttachStdin"]
    assert body["HostConfig"]["NetworkMode"] == "default"


def test_detached_does_not_attach() -> None:
    _, body, _ = body_for(["-d", "busybox", "top"])
    assert not (body["AttachStdin"] or body["AttachStdout"] or body["AttachStderr"])


def test_env_labels_workdir_user_entrypoint(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\n\nPASSED\n")
    monkeypatch.setenv("PASSED", "through")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    _, body, _ = body_for(
        ["--env-file", str(env_file), "-e", "A=1", "-e", "UNSET_VAR", "-l", "app=web", "-w", "/tmp",
         "-u", "1000:1000", "--entrypoint", "/bin/echo", "--hostname", "h1", "busybox", "hi"]
    )  # fmt: skip
    assert body["Env"] == ["FROM_FILE=1", "PASSED=through", "A=1", "UNSET_VAR"]
    assert body["Labels"] == {"app": "web"}
    assert (body["WorkingDir"], body["User"], body["Hostname"]) == ("/tmp", "1000:1000", "h1")
    assert body["Entrypoint"] == ["/bin/echo"]


def test_empty_entrypoint_resets_it() -> None:
    _, body, _ = body_for(["--entrypoint", "", "busybox"])
    assert body["Entrypoint"] == [""]
    _, body, _ = body_for(["busybox"])
    assert body["Entrypoint"] is None and body["Cmd"] is None


def test_security_and_runtime_flags() -> None:
    _, body, _ = body_for(
        ["--read-only", "--init", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged",
         "--security-opt", "no-new-privileges", "--runtime", "runc", "--rm", "busybox"]
    )  # fmt: skip
    h = body["HostConfig"]
    assert h["ReadonlyRootfs"] and h["Init"] and h["Privileged"] and h["AutoRemove"]
    assert h["CapAdd"] == ["NET_ADMIN"] and h["CapDrop"] == ["ALL"]
    assert h["SecurityOpt"] == ["no-new-privileges"] and h["Runtime"] == "runc"


def test_resources() -> None:
    _, body, _ = body_for(
        ["-m", "64m", "--memory-swap", "-1", "--cpus", "1.5", "--pids-limit", "100",
         "--shm-size", "128m", "--ulimit", "nofile=1024:2048", "busybox"]
    )  # fmt: skip
    h = body["HostConfig"]
    assert h["Memory"] == 64 << 20 and h["MemorySwap"] == -1
    assert h["NanoCpus"] == 1_500_000_000 and h["PidsLimit"] == 100
    assert h["ShmSize"] == 128 << 20
    assert h["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]


def test_ports_volumes_mounts_tmpfs_network() -> None:
    _, body, _ = body_for(
        ["-p", "8080:80", "-p", "127.0.0.1:9000-9001:9000-9001/udp", "-p", "53", "--expose", "7000",
         "-v", "/host:/data:ro", "-v", "/anon", "--mount", "type=tmpfs,target=/cache,tmpfs-size=1m",
         "--tmpfs", "/run:size=64k", "--network", "none", "--restart", "on-failure:3", "busybox"]
    )  # fmt: skip
    assert set(body["ExposedPorts"]) == {"80/tcp", "9000/udp", "9001/udp", "53/tcp", "7000/tcp"}
    h = body["HostConfig"]
    assert h["PortBindings"]["80/tcp"] == [{"HostIp": "", "HostPort": "8080"}]
    assert h["PortBindings"]["9001/udp"] == [{"HostIp": "127.0.0.1", "HostPort": "9001"}]
    assert h["PortBindings"]["53/tcp"] == [{"HostIp": "", "HostPort": ""}]
    assert h["Binds"] == ["/host:/data:ro"] and body["Volumes"] == {"/anon": {}}
    assert h["Mounts"] == [
        {"Type": "tmpfs", "Target": "/cache", "TmpfsOptions": {"SizeBytes": 1 << 20}}
    ]
    assert h["Tmpfs"] == {"/run": "size=64k"}
    assert h["NetworkMode"] == "none"
    assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}


@pytest.mark.parametrize(
    "argv",
    [
        ["--restart", "always", "--rm", "busybox"],
        ["--restart", "sometimes", "busybox"],
        ["-d", "-a", "stdout", "busybox"],
        ["-p", "80:90:100:110", "busybox"],
        ["--mount", "type=bind,source=/x", "busybox"],
        ["-m", "lots", "busybox"],
    ],
)
def test_bad_flag_values_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(flags.UsageError):
        body_for(argv)


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ('exec: "nosuchcmd": executable file not found in $PATH', 127),
        ("exec /bin/nope: no such file or directory", 127),
        ('exec: "/etc/passwd": permission denied', 126),
        ("cgroup setup failed", 125),
    ],
)
def test_start_errors_map_to_docker_exit_codes(message: str, status: int) -> None:
    assert start_error_status(message) == status

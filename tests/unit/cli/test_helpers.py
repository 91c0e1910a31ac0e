"""Pure helpers: refs, cp paths, build context, auth file, df rows, events, stats."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from berth.cli import auth, buildcontext, copying, refs
from berth.cli.commands.stats import stats_row
from berth.cli.commands.system import disk_usage_rows, format_event


@pytest.mark.parametrize(
    ("ref", "split"),
    [
        ("busybox", ("busybox", None)),
        ("busybox:1.36", ("busybox", "1.36")),
        ("localhost:5000/a/b", ("localhost:5000/a/b", None)),
        ("localhost:5000/a/b:v2", ("localhost:5000/a/b", "v2")),
        ("a@sha256:" + "0" * 64, ("a@sha256:" + "0" * 64, None)),
    ],
)
def test_split_tag(ref: str, split: tuple) -> None:
    assert refs.split_tag(ref) == split


def test_with_default_tag() -> None:
    assert refs.with_default_tag("busybox") == "busybox:latest"
    assert refs.with_default_tag("127.0.0.1:9/x") == "127.0.0.1:9/x:latest"


@pytest.mark.parametrize(
    ("arg", "split"),
    [
        ("web:/etc/hosts", ("web", "/etc/hosts")),
        ("web:", ("web", "/")),
        ("/tmp/a:b", (None, "/tmp/a:b")),
        ("./x:y", (None, "./x:y")),
        ("plain", (None, "plain")),
    ],
)
def test_container_paths(arg: str, split: tuple) -> None:
    assert copying.split_container_path(arg) == split


def test_build_context_honours_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / ".dockerignore").write_text("# comment\n*.log\nsecret/\n!keep.log\n")
    (tmp_path / "a.log").write_text("x")
    (tmp_path / "keep.log").write_text("x")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "key").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text("x")
    data, dockerfile = buildcontext.pack(str(tmp_path), None)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = set(tar.getnames())
    assert dockerfile == "Dockerfile"
    assert {"Dockerfile", ".dockerignore", "keep.log", "src", "src/main.c"} <= names
    assert not names & {"a.log", "secret", "secret/key"}


def test_dockerfile_outside_the_context_travels_inside(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    outside = tmp_path / "Other.dockerfile"
    outside.write_text("FROM busybox\n")
    data, dockerfile = buildcontext.pack(str(ctx), str(outside))
    assert dockerfile.startswith(".dockerfile.")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile(dockerfile).read() == b"FROM busybox\n"


def test_auth_file_roundtrip(tmp_path: Path) -> None:
    auth.store("127.0.0.1:5000", "alice", "s3cret", str(tmp_path))
    path = tmp_path / "config.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    stored = json.loads(path.read_text())["auths"]["127.0.0.1:5000"]["auth"]
    assert base64.b64decode(stored) == b"alice:s3cret"
    header = auth.header_for("127.0.0.1:5000/team/app:1", str(tmp_path))["X-Registry-Auth"]
    decoded = json.loads(base64.urlsafe_b64decode(header))
    assert decoded == {"username": "alice", "password": "s3cret", "serveraddress": "127.0.0.1:5000"}
    assert (
        json.loads(
            base64.urlsafe_b64decode(auth.header_for("busybox", str(tmp_path))["X-Registry-Auth"])
        )
        == {}
    )
    assert auth.remove("127.0.0.1:5000", str(tmp_path)) is True
    assert auth.remove("127.0.0.1:5000", str(tmp_path)) is False
    assert sorted(os.listdir(tmp_path)) == ["config.json"]


def test_registry_of() -> None:
    assert auth.registry_of("busybox") == auth.DEFAULT_INDEX
    assert auth.registry_of("library/busybox") == auth.DEFAULT_INDEX
    assert auth.registry_of("localhost/x") == "localhost"
    assert auth.registry_of("reg.example:443/x/y") == "reg.example:443"


def test_disk_usage_rows_use_dockers_arithmetic() -> None:
    df = {
        "LayersSize": 2000,
        "Images": [
            {"Containers": 1, "Size": 1500, "VirtualSize": 1500, "SharedSize": 500},
            {"Containers": 0, "Size": 500, "VirtualSize": 500, "SharedSize": 0},
        ],
        "Containers": [{"State": "running", "SizeRw": 10}, {"State": "exited", "SizeRw": 30}],
        "Volumes": [
            {"UsageData": {"Size": 100, "RefCount": 0}},
            {"UsageData": {"Size": -1, "RefCount": 1}},
        ],
        "BuildCache": [],
    }
    rows = {r["Type"]: r for r in disk_usage_rows(df)}
    assert rows["Images"] == {
        "Type": "Images", "TotalCount": "2", "Active": "1", "Size": "2kB", "Reclaimable": "1kB (50%)",
    }  # fmt: skip
    assert rows["Containers"]["Active"] == "1" and rows["Containers"]["Reclaimable"] == "30B (75%)"
    assert rows["Local Volumes"]["Size"] == "100B" and rows["Local Volumes"]["Active"] == "1"
    assert rows["Build Cache"]["Reclaimable"] == "0B"


def test_event_line() -> None:
    event = {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}},
        "time": 1704164645,
        "timeNano": 1704164645123456789,
    }
    assert (
        format_event(event)
        == "2024-01-02T03:04:05.123456789Z container start abc (image=busybox, name=web)"
    )


def test_stats_row() -> None:
    sample = {
        "id": "f" * 64,
        "name": "/web",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 300},
            "system_cpu_usage": 2000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {
            "usage": 3 << 20,
            "limit": 100 << 20,
            "stats": {"total_inactive_file": 1 << 20},
        },
        "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 0}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}]},
        "pids_stats": {"current": 3},
    }
    row = stats_row(sample, trunc=True)
    assert row["ID"] == "f" * 12 and row["Name"] == "web"
    assert row["CPUPerc"] == "40.00%"
    assert row["MemUsage"] == "2MiB / 100MiB" and row["MemPerc"] == "2.00%"
    assert row["NetIO"] == "1.5kB / 0B" and row["BlockIO"] == "4.1kB / 0B" and row["PIDs"] == "3"


def test_info_lines_layout() -> None:
    from berth.cli.commands.system import info_lines

    lines = info_lines(
        {
            "Containers": 3, "ContainersRunning": 1, "ContainersPaused": 0, "ContainersStopped": 2,
            "Images": 4, "ServerVersion": "0.1.0", "Driver": "overlay", "DriverStatus": [["Backing Filesystem", "extfs"]],
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"], "MemTotal": 2 * 1024**3,
            "RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"]},
        }
    )  # fmt: skip
    text = "\n".join(lines)
    assert " Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4" in text
    assert " Storage Driver: overlay\n  Backing Filesystem: extfs" in text
    assert " Security Options:\n  seccomp\n   Profile: builtin\n  cgroupns" in text
    assert " Total Memory: 2GiB" in text and " Insecure Registries:\n  127.0.0.0/8" in text

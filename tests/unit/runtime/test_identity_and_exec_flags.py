"""The program's path and environment, and runc's exec flags over a process."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.oci.spec import Capabilities, Process, User
from berth.runtime.cli import _process_from_flags
from berth.runtime.identity import environment, find_executable


def test_find_executable_uses_the_containers_path(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (bin_dir / "data").write_text("not executable")
    env = [f"PATH=/nowhere:{bin_dir}"]
    assert find_executable("tool", env) == str(tool)
    assert find_executable(str(tool), []) == str(tool)
    with pytest.raises(InvalidArgument, match='"data": executable file not found in \\$PATH'):
        find_executable("data", env)
    with pytest.raises(InvalidArgument, match="no such file"):
        find_executable("/no/such/tool", env)


def test_environment_adds_home_only_when_missing():
    assert environment(Process(args=["x"], env=["HOME=/h"])) == ["HOME=/h"]
    added = environment(Process(args=["x"], env=["A=1"], user=User(uid=987654)))
    assert added == ["A=1", "HOME=/"]  # a uid without a passwd entry


def test_exec_flags_over_the_containers_process():
    base = Process(
        args=["sleep", "1"],
        env=["PATH=/bin"],
        cwd="/",
        capabilities=Capabilities(
            bounding=["CAP_KILL"], effective=["CAP_KILL"], permitted=["CAP_KILL"]
        ),
    )
    flags = {"env": ["A=1"], "cwd": "/tmp", "tty": True, "user": "1000:100", "cap": ["CAP_CHOWN"]}
    process = _process_from_flags(base, flags, ["sh", "-c", "id"])
    assert process.args == ["sh", "-c", "id"]
    assert process.env == ["PATH=/bin", "A=1"]
    assert (process.cwd, process.terminal) == ("/tmp", True)
    assert (process.user.uid, process.user.gid) == (1000, 100)
    assert process.capabilities.effective == ["CAP_KILL", "CAP_CHOWN"]
    assert base.args == ["sleep", "1"]  # the container's own process is untouched

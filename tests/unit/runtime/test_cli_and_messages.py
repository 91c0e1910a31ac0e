"""berth-runc's argument parsing, its error lines, and the protocol's messages."""

from __future__ import annotations

import os

import pytest

from berth.linux.fds import seqpacket_pair
from berth.runtime import cli
from berth.runtime import messages as msg


def test_flags_anywhere_and_values():
    flags, pos = cli.parse_flags(
        ["--bundle", "/b", "c1", "--pid-file=/p", "-d"], cli._COMMANDS["run"]
    )
    assert flags == {"bundle": "/b", "pid_file": "/p", "detach": True}
    assert pos == ["c1"]
    flags, pos = cli.parse_flags(["-b/b", "c1"], cli._COMMANDS["create"])
    assert flags == {"bundle": "/b"}


def test_exec_stops_at_the_command():
    flags, pos = cli.parse_flags(
        ["-e", "A=1", "--env", "B=2", "c1", "sh", "-c", "ls -l"],
        cli._COMMANDS["exec"],
        stop_after=1,
    )
    assert flags == {"env": ["A=1", "B=2"]}
    assert pos == ["c1", "sh", "-c", "ls -l"]


def test_unknown_flag_is_a_usage_error():
    with pytest.raises(cli.Usage):
        cli.parse_flags(["--frobnicate"], cli._COMMANDS["start"])


def test_errors_are_one_line_and_exit_1(capsys, tmp_path):
    assert cli.main(["--root", str(tmp_path), "state", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'msg="container does not exist"' in err
    assert cli.main(["--root", str(tmp_path), "nosuchverb"]) == 1
    assert cli.main(["--root", str(tmp_path), "kill"]) == 1
    assert "requires a minimum of 1" in capsys.readouterr().err


def test_list_on_an_empty_root(capsys, tmp_path):
    assert cli.main(["--root", str(tmp_path / "none"), "list"]) == 0
    assert capsys.readouterr().out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


def test_messages_round_trip_and_failures():
    a, b = seqpacket_pair()
    try:
        msg.send(a, msg.InitPid(42))
        assert msg.receive(b, msg.InitPid, "init") == msg.InitPid(42)
        msg.send(a, msg.Failed("mount /proc: EPERM"))
        with pytest.raises(msg.ProcessFailed, match="mount /proc: EPERM"):
            msg.receive(b, msg.Ready, "init")
        msg.send(a, msg.Ready())
        with pytest.raises(msg.ProcessFailed, match="sent Ready, expected InitPid"):
            msg.receive(b, msg.InitPid, "init")
        os.close(a)
        a = -1
        with pytest.raises(msg.ProcessFailed, match="exited during setup"):
            msg.receive(b, msg.Ready, "init")
    finally:
        for fd in (a, b):
            if fd >= 0:
                os.close(fd)

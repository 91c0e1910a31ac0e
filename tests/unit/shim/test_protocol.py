"""The shim's wire messages: frames, lines, exit records."""

from __future__ import annotations

import json
import os
import socket

import pytest

from berth.shim import protocol as p


def test_frame_is_dockers_multiplexing_header():
    assert p.frame(p.STDERR, b"abc") == b"\x02\x00\x00\x00\x00\x00\x00\x03abc"
    assert p.HEADER.unpack(p.frame(p.STDOUT, b"x" * 70000)[:8]) == (1, 70000)


def test_request_line_carries_the_message_fields():
    req = p.AttachRequest(stdin=True, stdout=True, stderr=False, detach_keys="\x10\x11")
    line = p.to_line("attach", req, extra=1)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    data = json.loads(line)
    assert data["op"] == "attach" and data["extra"] == 1
    assert p.from_fields(p.AttachRequest, data) == req


def test_from_fields_ignores_unknown_keys():
    rec = p.from_fields(p.ExitRecord, {"exit_code": 3, "finished_ns": 5, "future": True})
    assert rec == p.ExitRecord(exit_code=3, finished_ns=5)


def test_state_round_trip():
    st = p.ShimState(
        id="c",
        shim_pid=1,
        pid=2,
        status="stopped",
        tty=False,
        stdin_open=True,
        attached=0,
        exit=p.ExitRecord(1, 2, True, 9),
        execs=[p.ExecState("e", 3, False, 0)],
    )
    from dataclasses import asdict

    assert p.state_from(json.loads(json.dumps(asdict(st)))) == st


def test_exit_record_written_atomically(tmp_path):
    path = str(tmp_path / "exit.json")
    assert p.read_exit_record(path) is None
    p.write_exit_record(
        path, p.ExitRecord(exit_code=137, finished_ns=42, oom_killed=True, signal=9)
    )
    assert p.read_exit_record(path) == p.ExitRecord(137, 42, True, 9)
    assert os.listdir(tmp_path) == ["exit.json"]  # no temporary left


def test_read_line_helpers():
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b'{"op":"ping"}\nrest')
        line, rest = p.read_line(b.fileno())
        assert (line, rest) == (b'{"op":"ping"}', b"rest")
        a.sendall(b"partial")
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(EOFError):
            p.read_line_sock(b)

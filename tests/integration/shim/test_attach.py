"""Attaching to a container's stdio through its shim: several clients, a pty,
resize, detach keys."""

from __future__ import annotations

import pytest

from tests.integration.shim.conftest import read_until, wait_for

pytestmark = pytest.mark.timeout(120)

PROMPT_SH = ["sh"]


def test_two_clients_both_see_output_and_one_types(shims):
    shim = shims.run(
        ["sh", "-c", "while read line; do echo got $line; echo warn $line >&2; done"],
        stdin_open=True,
    )
    typist = shim.attach(stdin=True)
    watcher = shim.attach(stdout=True, stderr=True)
    only_out = shim.attach(stdout=True, stderr=False)
    wait_for(lambda: shim.state().attached == 3, what="three clients")
    typist.write(b"one\n")
    for stream in (typist, watcher):
        frames = []
        while len(frames) < 2:
            frames.append(stream.read_frame())
        assert sorted(frames) == [(1, b"got one\n"), (2, b"warn one\n")]
    assert only_out.read_frame() == (1, b"got one\n")
    # a client that only watches cannot type
    watcher.write(b"ignored\n")
    typist.write(b"two\n")
    assert only_out.read_frame() == (1, b"got two\n")
    typist.close_stdin()  # not stdin_once: the container's stdin stays open
    assert shim.state().status == "running"
    shim.close_stdin()
    for stream in (typist, watcher, only_out):
        stream.read_all()
        assert stream.end.reason == "exited" and stream.end.exit_code == 0


def test_pty_echo_and_resize_changes_stty_size(shims):
    shim = shims.run(PROMPT_SH, tty=True, stdin_open=True)
    stream = shim.attach(stdin=True)
    shim.resize(33, 111)
    stream.write(b"stty size\n")
    read_until(stream, b"33 111")
    shim.resize(20, 70)
    stream.write(b"stty size; exit 5\n")
    read_until(stream, b"20 70")
    stream.read_all()
    assert stream.end.exit_code == 5
    assert shim.wait().exit_code == 5


def test_detach_keys_leave_container_running(shims):
    shim = shims.run(PROMPT_SH, tty=True, stdin_open=True)
    stream = shim.attach(stdin=True)
    stream.write(b"echo before\n")
    read_until(stream, b"before\r\n")
    stream.write(b"\x10\x11")
    stream.read_all()
    assert stream.end.reason == "detached"
    assert shim.state().status == "running"
    # custom keys, and a partial match that is passed through
    again = shim.attach(stdin=True, detach_keys=b"qz")
    again.write(b"echo qy back\n")
    read_until(again, b"qy back\r\nqy back")  # q then y is no match: both go through
    again.write(b"qz")
    again.read_all()
    assert again.end.reason == "detached"
    third = shim.attach(stdin=True)
    third.write(b"exit 0\n")
    third.read_all()
    assert third.end.reason == "exited"


def test_eof_on_tty_stdin_once_ends_cat(shims):
    shim = shims.run(["cat"], tty=True, stdin_open=True)
    stream = shim.attach(stdin=True, stdin_once=True)
    stream.write(b"line\n")
    read_until(stream, b"line\r\nline\r\n")
    stream.close_stdin()
    stream.read_all()
    assert stream.end.exit_code == 0


def test_attach_after_exit_is_refused(runc_shims):
    from berth import errors

    shim = runc_shims.run(["true"])
    shim.wait()
    try:
        shim.attach()
    except (errors.Conflict, errors.Unavailable):
        pass
    else:
        raise AssertionError("attached to an exited container")

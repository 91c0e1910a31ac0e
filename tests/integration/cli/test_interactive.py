"""The seed's interactive sequence through a real pty, driven by pexpect.

run -it busybox sh; Ctrl-P Ctrl-Q detaches and the container keeps running;
ps shows it; exec -it opens a second shell whose exit leaves the container up;
attach comes back; exit ends PID 1 and the CLI exits with its code; ps -a shows
it exited; rm removes it.
"""

from __future__ import annotations

import re
import time

import pexpect
import pytest

from tests.support.poll import wait_until

pytestmark = pytest.mark.docker

PROMPT = "# "


def spawn(engine, *args: str, rows: int = 24, cols: int = 80) -> pexpect.spawn:
    child = pexpect.spawn(
        engine.berth, list(args), env=engine.env(), timeout=30, encoding="utf-8",
        dimensions=(rows, cols),
    )  # fmt: skip
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def status_of(engine, name: str) -> str:
    return engine.ok("inspect", "--format", "{{.State.Status}}", name).strip()


def test_seed_sequence(engine, name: str) -> None:
    shell = spawn(engine, "run", "-it", "--name", name, "busybox", "sh")
    shell.expect(PROMPT)
    shell.sendline("echo $((6*7))")
    shell.expect("42")
    shell.send("\x10\x11")  # Ctrl-P Ctrl-Q
    assert finish(shell) == 0
    assert status_of(engine, name) == "running"
    ps = engine.ok("ps", "--filter", f"name={name}").splitlines()
    assert len(ps) == 2 and re.search(r"\bUp\b", ps[1]) and '"sh"' in ps[1]

    second = spawn(engine, "exec", "-it", name, "sh")
    second.expect(PROMPT)
    second.sendline("ps")
    second.expect("PID")
    second.sendline("exit 5")
    assert finish(second) == 5
    assert status_of(engine, name) == "running"

    back = spawn(engine, "attach", name)
    back.sendline("echo back-$((1+1))")
    back.expect("back-2")
    back.sendline("exit 7")
    assert finish(back) == 7
    wait_until(lambda: status_of(engine, name) == "exited", 20, "the container to exit")
    assert "Exited (7)" in engine.ok("ps", "-a", "--filter", f"name={name}")
    assert engine.ok("rm", name).strip() == name


def test_window_size_and_resize(engine, name: str) -> None:
    shell = spawn(engine, "run", "-it", "--rm", "--name", name, "busybox", "sh", rows=33, cols=101)
    shell.expect(PROMPT)
    shell.sendline("stty size")
    shell.expect("33 101")
    shell.setwinsize(40, 120)  # SIGWINCH -> resize API
    deadline = time.monotonic() + 10
    while True:
        shell.sendline("stty size")
        try:
            shell.expect("40 120", timeout=1)
            break
        except pexpect.TIMEOUT:
            assert time.monotonic() < deadline, "resize never reached the container"
    shell.sendline("exit 3")
    assert finish(shell) == 3


def test_custom_detach_keys_and_ctrl_c_reaches_the_container(engine, name: str) -> None:
    shell = spawn(
        engine, "run", "-it", "--detach-keys", "ctrl-a,x", "--name", name, "busybox", "sh"
    )
    shell.expect(PROMPT)
    shell.sendline("sleep 1000")
    wait_until(lambda: "sleep 1000" in engine.ok("top", name), 20, "sleep to start")
    shell.sendcontrol("c")  # raw mode: the container's shell gets SIGINT, the CLI lives on
    shell.expect(PROMPT)
    shell.send("\x01x")
    assert finish(shell) == 0
    assert status_of(engine, name) == "running"
    engine.ok("rm", "-f", name)


def test_start_attach_interactive(engine, name: str) -> None:
    engine.ok("create", "-it", "--name", name, "busybox", "sh")
    shell = spawn(engine, "start", "-ai", name)
    shell.sendline("echo started-$((2*3))")
    shell.expect("started-6")
    shell.sendline("exit 9")
    assert finish(shell) == 9
    engine.ok("rm", name)


def test_tty_required_for_it(engine) -> None:
    result = engine.run("run", "-it", "--rm", "busybox", "true", input="")
    assert result.returncode == 1 and "the input device is not a TTY" in result.stderr

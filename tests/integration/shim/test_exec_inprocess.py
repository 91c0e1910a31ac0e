"""exec through a shim that calls berth-runc in a forked child (berth-runc's own
launcher) answers exactly as one that executes berth-runc (a wrapper script the
shim does not recognise): output, exit codes, env, user, cwd, stdin, tty, open
fds, signal dispositions, errors."""

from __future__ import annotations

import concurrent.futures
import copy
import shutil
from pathlib import Path

import pytest

from berth import errors
from berth.runtime.example import example_config
from berth.shim.ociruntime import runs_this_berth
from tests.conftest import tool
from tests.integration.shim.conftest import Shims, read_until

pytestmark = pytest.mark.timeout(120)

# glibc's posix_spawn leaves its internal signals (32, 33) ignored in the child
# it spawns, so an executed runtime passes that on; the forked one does not.
GLIBC_INTERNAL = (1 << 31) | (1 << 32)


def process(args: list[str], tty: bool = False, **fields: object) -> dict:
    proc = copy.deepcopy(example_config()["process"])
    proc["args"] = args
    proc["terminal"] = tty
    proc.update(fields)
    return proc


@pytest.fixture
def pair(busybox_rootfs: Path, tmp_path: Path, socket_dir: Path, needs_root):
    """Two running containers: one whose shim forks berth-runc, one whose shim
    executes it (through a wrapper)."""
    launcher = tool("berth-runc")
    wrapper = tmp_path / "berth-runc-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {launcher} "$@"\n')
    wrapper.chmod(0o755)
    assert runs_this_berth(launcher) and not runs_this_berth(str(wrapper))
    made = []
    shims = []
    try:
        for name, runtime in (("forked", launcher), ("executed", str(wrapper))):
            (tmp_path / name).mkdir()
            s = Shims(runtime, busybox_rootfs, tmp_path / name, socket_dir)
            made.append(s)
            shims.append(s.run(["sleep", "120"]))
        yield shims
    finally:
        for shim in shims:
            try:
                shim.kill(9)
                shim.wait()
            except errors.BerthError:
                pass
        for s in made:
            s.cleanup()


def both(pair, exec_id: str, proc: dict, **kw) -> list[tuple[bytes, bytes, int]]:
    results = []
    for shim in pair:
        stream = shim.exec(exec_id, proc, **kw)
        out, err = stream.read_all()
        stream.close()
        results.append((out, err, stream.end.exit_code))
    return results


def test_output_and_exit_code(pair):
    forked, executed = both(pair, "out", process(["sh", "-c", "echo out; echo err >&2; exit 7"]))
    assert forked == executed == (b"out\n", b"err\n", 7)


def test_env_user_and_cwd(pair):
    proc = process(
        ["sh", "-c", "id -u; id -g; id -G; pwd; env | sort"],
        env=["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="],
        cwd="/tmp",
        user={"uid": 1000, "gid": 1001, "additionalGids": [1002]},
    )
    forked, executed = both(pair, "who", proc)
    assert forked == executed
    lines = forked[0].decode().splitlines()
    assert lines[:4] == ["1000", "1001", "1001 1002", "/tmp"]
    assert "FOO=bar baz" in lines and "EMPTY=" in lines and forked[2] == 0


def test_stdin(pair):
    outs = []
    for shim in pair:
        stream = shim.exec("in", process(["sh", "-c", "cat; exit 3"]), stdin=True)
        stream.write(b"through stdin\n")
        stream.close_stdin()
        out, _ = stream.read_all()
        outs.append((out, stream.end.exit_code))
    assert outs[0] == outs[1] == (b"through stdin\n", 3)


def test_tty(pair):
    seen = []
    for shim in pair:
        stream = shim.exec("t", process(["sh"], tty=True), tty=True, stdin=True)
        shim.resize(33, 77, exec_id="t")
        stream.write(b"tty; stty size; exit 4\n")
        read_until(stream, b"33 77")
        stream.read_all()
        seen.append(stream.end.exit_code)
    assert seen == [4, 4]


def test_open_fds_and_signal_dispositions(pair):
    script = "ls /proc/self/fd; grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status"
    forked, executed = both(pair, "fds", process(["sh", "-c", script]))

    def parse(out: bytes) -> tuple[list[str], dict[str, int]]:
        fds, masks = [], {}
        for line in out.decode().splitlines():
            if line.startswith("Sig"):
                key, value = line.split(":")
                masks[key] = int(value, 16) & ~GLIBC_INTERNAL
            else:
                fds.append(line)
        return fds, masks

    assert parse(forked[0]) == parse(executed[0])
    fds, masks = parse(forked[0])
    assert fds == ["0", "1", "2", "3"]  # 3: ls's own directory
    assert masks["SigBlk"] == 0 and masks["SigCgt"] == 0


def test_a_missing_program_fails_alike(pair):
    messages = []
    for shim in pair:
        with pytest.raises(errors.InternalError) as failed:
            shim.exec("bad", process(["/no/such/program"])).read_all()
        messages.append(str(failed.value))
    assert messages[0] == messages[1]
    assert "/no/such/program" in messages[0]
    # the container is fine, and both shims go on serving execs
    assert both(pair, "after", process(["true"])) == [(b"", b"", 0)] * 2


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_runc_is_still_executed():
    assert not runs_this_berth(shutil.which("runc"))


def test_concurrent_execs_each_get_their_own_output_and_code(pair):
    forked = pair[0]

    def one(n: int) -> tuple[bytes, int]:
        stream = forked.exec(f"c{n}", process(["sh", "-c", f"echo {n}; exit {n}"]))
        out, _ = stream.read_all()
        stream.close()
        return out, stream.end.exit_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(12)))
    assert results == [(f"{n}\n".encode(), n) for n in range(12)]

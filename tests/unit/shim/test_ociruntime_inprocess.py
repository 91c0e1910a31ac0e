"""berth-runc called in a forked child of the shim (`berth.shim.ociruntime`):
which runtimes qualify, and that a call answers as the executed launcher does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from berth.shim import ociruntime
from berth.shim.ociruntime import Runtime, runs_this_berth
from tests.conftest import tool

OUR_TREE = str(Path(ociruntime.__file__).resolve().parents[2])


def script(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_the_installed_berth_runc_launcher_qualifies():
    assert runs_this_berth(tool("berth-runc"))


def test_a_launcher_of_another_tree_or_interpreter_does_not(tmp_path: Path):
    other_tree = script(
        tmp_path / "other",
        '#!/usr/bin/python3 -S\nimport sys\nsys.path.insert(0, "/elsewhere")\n'
        "from berth.runtime.cli import main\nsys.exit(main())\n",
    )
    ours = script(
        tmp_path / "ours",
        f'#!/usr/bin/python3 -S\nimport sys\nsys.path.insert(0, "{OUR_TREE}")\n'
        "from berth.runtime.cli import main\nsys.exit(main())\n",
    )
    pip_style_ours = script(
        tmp_path / "pip-ours",
        f"#!{sys.executable}\nimport sys\nfrom berth.runtime.cli import main\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n",
    )
    pip_style_other = script(
        tmp_path / "pip-other",
        "#!/opt/other/bin/python\nimport sys\nfrom berth.runtime.cli import main\n"
        "sys.exit(main())\n",
    )
    assert not runs_this_berth(other_tree)
    assert runs_this_berth(ours)
    assert runs_this_berth(pip_style_ours)
    assert not runs_this_berth(pip_style_other)


def test_other_runtimes_and_wrappers_are_executed(tmp_path: Path):
    wrapper = script(tmp_path / "wrap", f'#!/bin/sh\nexec {tool("berth-runc")} "$@"\n')
    assert not runs_this_berth(wrapper)
    assert not runs_this_berth(str(tmp_path / "missing"))
    for name in ("runc", "crun"):
        if shutil.which(name):
            assert not runs_this_berth(shutil.which(name))


def call(rt: Runtime, *args: str) -> tuple[int, bytes, bytes]:
    """Run `rt` with pipes for stdout and stderr; (exit code, stdout, stderr)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = rt.spawn([rt.path, *args], (null, out_w, err_w))
    finally:
        for fd in (null, out_w, err_w):
            os.close(fd)
    with os.fdopen(out_r, "rb") as out, os.fdopen(err_r, "rb") as err:
        stdout, stderr = out.read(), err.read()
    return os.waitstatus_to_exitcode(rt.wait(pid)), stdout, stderr


@pytest.fixture
def preloaded():
    before = list(ociruntime._loaded)
    ociruntime.preload_runtime()
    try:
        yield
    finally:
        ociruntime._loaded[:] = before


def test_a_forked_call_answers_as_the_executed_launcher(tmp_path: Path, preloaded):
    assert ociruntime.runtime_preloaded()
    log = str(tmp_path / "rt.log")
    forked = Runtime(tool("berth-runc"), str(tmp_path / "root"), log, "x", in_process=True)
    executed = Runtime(tool("berth-runc"), str(tmp_path / "root"), log, "x")
    assert call(forked, "--version") == call(executed, "--version")
    assert call(forked, "--version")[1].startswith(b"berth-runc version ")

    args = ("--root", str(tmp_path / "root"), "--log", log, "--log-format", "json")
    failed_forked = call(forked, *args, "state", "nosuch")
    failed_executed = call(executed, *args, "state", "nosuch")
    assert failed_forked[0] == failed_executed[0] == 1
    assert failed_forked[2] == failed_executed[2]
    assert b"does not exist" in failed_forked[2]

    assert call(forked, "no-such-verb")[0] == call(executed, "no-such-verb")[0] == 1


def test_a_forked_call_leaves_the_callers_fds_and_signals_alone(tmp_path: Path, preloaded):
    import signal

    rt = Runtime(tool("berth-runc"), str(tmp_path), str(tmp_path / "l"), "x", in_process=True)
    handler = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        fds = sorted(os.listdir("/proc/self/fd"))
        assert call(rt, "--version")[0] == 0
        assert sorted(os.listdir("/proc/self/fd")) == fds
        assert callable(signal.getsignal(signal.SIGUSR1))
    finally:
        signal.signal(signal.SIGUSR1, handler)


def test_changed_runtime_code_on_disk_means_executing_it(tmp_path: Path, preloaded):
    source = tmp_path / "module.py"
    source.write_text("")
    ociruntime._loaded[:] = [(*ociruntime._loaded[0], (str(source), source.stat().st_mtime_ns))]
    assert ociruntime.runtime_preloaded()
    os.utime(source, ns=(0, source.stat().st_mtime_ns + 1_000_000_000))
    assert not ociruntime.runtime_preloaded()
    # and then spawn takes the executed path: same answer
    rt = Runtime(tool("berth-runc"), str(tmp_path), str(tmp_path / "l"), "x", in_process=True)
    assert call(rt, "--version")[1].startswith(b"berth-runc version ")


def test_without_preloading_the_runtime_is_executed(tmp_path: Path):
    before = list(ociruntime._loaded)
    ociruntime._loaded.clear()
    try:
        assert not ociruntime.runtime_preloaded()
        rt = Runtime(tool("berth-runc"), str(tmp_path), str(tmp_path / "l"), "x", in_process=True)
        code, out, _ = call(rt, "--version")
        assert code == 0 and out.startswith(b"berth-runc version ")
    finally:
        ociruntime._loaded[:] = before


def test_a_shell_script_naming_the_cli_is_executed(tmp_path: Path):
    launcher = script(
        tmp_path / "launcher",
        f'#!/bin/sh\n: <<EOF\nsys.path.insert(0, "{OUR_TREE}")\n'
        'from berth.runtime.cli import main\nEOF\nexec runc "$@"\n',
    )
    assert not runs_this_berth(launcher)

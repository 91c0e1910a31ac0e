"""berth-runc's start-up helpers: dataclasses without inspect, the cgroup keeper's file."""

from __future__ import annotations

import os
import subprocess
import sys

from berth.runtime.cgroups import warm

PROBE = """
import sys
from berth.runtime.startup import import_dataclasses
import_dataclasses()
loaded_early = "inspect" in sys.modules
import dataclasses

@dataclasses.dataclass
class NoDoc:
    x: int

import inspect
print(loaded_early, NoDoc.__doc__, callable(inspect.signature), sys.modules["inspect"] is inspect)
"""


def test_dataclasses_import_without_inspect_and_still_work() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    # inspect was not imported by dataclasses; a class without a docstring still
    # gets its signature (through the stand-in), and `import inspect` is the real module.
    assert out == ["False", "NoDoc(x:", "int)", "True", "True"]


def test_keeper_file_is_this_process_cgroup() -> None:
    path = warm.own_procs_file()
    if path is None:  # no cgroupfs mounted with its root visible here
        return
    assert path.endswith("/cgroup.procs")
    with open(path) as f:
        assert str(os.getpid()) in f.read().split()


def test_keeper_thread_runs_until_end() -> None:
    import _thread
    import time

    if warm.own_procs_file() is None or os.geteuid() != 0:
        return  # the keeper needs a writable cgroupfs
    before = _thread._count()
    warm.begin()
    warm.begin()  # a second begin while one runs starts nothing
    deadline = time.monotonic() + 5
    while _thread._count() == before:  # counted once it has started
        assert time.monotonic() < deadline, "no keeper thread started"
        time.sleep(0.001)
    assert _thread._count() == before + 1
    warm.end()
    while _thread._count() > before:
        assert time.monotonic() < deadline, "the keeper thread did not stop"
        time.sleep(0.001)

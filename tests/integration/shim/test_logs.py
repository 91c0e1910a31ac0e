"""The json-file log a shim writes: rotation by size and count."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(120)


def test_rotation_keeps_max_file_files_under_max_size(shims):
    shim = shims.run(
        ["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"],
        log_max_size=2000,
        log_max_file=3,
    )
    assert shim.wait().exit_code == 0
    log = shims.workdir / f"{shim.state_dir.name}-json.log"
    files = [log, log.with_name(log.name + ".1"), log.with_name(log.name + ".2")]
    assert all(f.exists() for f in files)
    assert not log.with_name(log.name + ".3").exists()
    lines = []
    for f in reversed(files):
        assert 0 < f.stat().st_size <= 2000
        lines += [json.loads(line)["log"] for line in f.read_text().splitlines()]
    # the newest lines are kept, in order, ending with the last one
    assert lines[-1] == "line-299\n"
    numbers = [int(line[5:]) for line in lines]
    assert numbers == list(range(numbers[0], 300))


def test_one_file_is_truncated(runc_shims):
    shim = runc_shims.run(
        ["sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done"],
        log_max_size=500,
        log_max_file=1,
    )
    assert shim.wait().exit_code == 0
    log = runc_shims.workdir / f"{shim.state_dir.name}-json.log"
    assert not log.with_name(log.name + ".1").exists()
    assert log.stat().st_size <= 500
    assert json.loads(log.read_text().splitlines()[-1])["log"] == "line-99\n"

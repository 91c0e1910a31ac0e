"""berth-runc's start-up diet: the modules of create/run/exec and of the small verbs
pull in none of the standard library's expensive modules, ctypes included
(docs/runtime.md, Speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Each costs berth-runc milliseconds per start (with what it imports in turn).
HEAVY = (
    "dataclasses",
    "inspect",
    "typing",
    "re",
    "enum",
    "json",
    "signal",
    "select",
    "copy",
    "ctypes",
)

PROBE = """
import sys
sys.path.insert(0, {repo!r})
from berth.runtime import cli, container, create, execute, init, jsonc, runner, seccomp, validate
from berth.runtime.cgroups import host, mounts, plan, v1, v2, warm
from berth.oci.spec import Spec, replace
spec = Spec.from_dict({{"process": {{"args": ["true"], "user": {{"uid": 0}}}},
                       "linux": {{"namespaces": [{{"type": "mount"}}]}}}}, "config.json")
replace(spec.process, args=["false"])
jsonc.loads(jsonc.dumps({{"a": [1, 2.5, None, "x"]}}))
v1.plan(spec.linux.resources)
print(" ".join(name for name in {heavy!r} if name in sys.modules))
"""


def test_the_runtime_paths_import_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(repo=str(REPO), heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == []


def test_jsonc_matches_the_standard_library() -> None:
    import json

    from berth.runtime import jsonc

    value = {"a": [1, -2.5, None, True, 'é\u2028"\\'], "b": {}, "c": [], "d": {"e": [{}]}}
    assert jsonc.dumps(value) == json.dumps(value)
    assert jsonc.dumps_indented(value) == json.dumps(value, indent=2)
    assert jsonc.loads(" \n" + json.dumps(value, indent=2) + "\n") == value
    assert jsonc.loads(json.dumps(value).encode()) == value
    for bad in ("{", "", "[1,]", "{} x"):
        try:
            json.loads(bad)
        except ValueError as expected:
            try:
                jsonc.loads(bad)
            except ValueError as got:
                assert str(got) == str(expected)
            else:
                raise AssertionError(f"jsonc accepted {bad!r}")

"""What the zygote loads is mapped by every shim: it must load berth-runc's
modules (forked runtime calls import nothing) and must not load `inspect` and
its train (ast, dis, tokenize: ~1.5 MB) through `dataclasses`."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from berth.shim.main import _lean_dataclasses
_lean_dataclasses()
import berth.shim.zygote
from berth.shim.ociruntime import preload_runtime, runtime_preloaded
preload_runtime()
print(json.dumps({"modules": sorted(sys.modules), "preloaded": runtime_preloaded()}))
"""


def test_the_zygote_loads_the_runtime_but_not_inspect():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    state = json.loads(out)
    modules = set(state["modules"])
    assert state["preloaded"] is True
    assert {"berth.runtime.cli", "berth.runtime.execute", "berth.runtime.create"} <= modules
    assert not {"inspect", "ast", "dis", "tokenize"} & modules

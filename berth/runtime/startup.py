"""Importing `dataclasses` without `inspect`, for start-up-sensitive processes.

`dataclasses` imports `inspect` (with ast, dis, tokenize: ~10 ms and 1.5 MB)
for one use only: a signature for a class without a docstring.
`import_dataclasses()` imports it with a stand-in for `inspect` that imports
the real module on first use, then takes the stand-in out of sys.modules
again, so any later `import inspect` anywhere is the real one. berth-runc's
own verbs no longer import `dataclasses` at all (see docs/runtime.md, Speed);
the shim's zygote uses this (berth/shim/main.py). Never called on import.
"""

from __future__ import annotations

import sys
import types


class _Deferred(types.ModuleType):
    """A module name whose real module is imported on first attribute access."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(__import__(self.__name__), name)


def import_dataclasses() -> None:
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        return
    stand_in = _Deferred("inspect")
    sys.modules["inspect"] = stand_in
    try:
        import dataclasses  # noqa: F401
    finally:
        if sys.modules.get("inspect") is stand_in:
            del sys.modules["inspect"]

"""`--change` instructions of `import` and `commit`, applied to a container config.

Each change is one Dockerfile instruction among those Docker accepts there:
CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR,
STOPSIGNAL. JSON arrays are the exec form; anything else for CMD/ENTRYPOINT
is the shell form, run by `/bin/sh -c`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from typing import Any

from berth.errors import InvalidArgument

ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
)


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """A copy of `config` with the instructions applied in order."""
    out = json.loads(json.dumps(config))
    for change in changes:
        _apply(out, change)
    return out


def _exec_or_shell(rest: str) -> list[str]:
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def _pairs(rest: str, what: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if not words:
        raise InvalidArgument(f"{what} requires at least one argument")
    if "=" not in words[0]:
        # legacy form: ENV key value with spaces
        key, _, value = rest.strip().partition(" ")
        return [(key, value.strip())]
    pairs = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{what} names can not be blank: {w!r}")
        pairs.append((key, value))
    return pairs


def _apply(cfg: dict[str, Any], change: str) -> None:
    instruction, _, rest = change.strip().partition(" ")
    word = instruction.upper()
    if word not in ALLOWED:
        raise InvalidArgument(f"{instruction} is not a valid change command")
    rest = rest.strip()
    if word == "CMD":
        cfg["Cmd"] = _exec_or_shell(rest)
    elif word == "ENTRYPOINT":
        cfg["Entrypoint"] = _exec_or_shell(rest)
    elif word == "ENV":
        env = list(cfg.get("Env") or [])
        for key, value in _pairs(rest, "ENV"):
            env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
        cfg["Env"] = env
    elif word == "LABEL":
        labels = dict(cfg.get("Labels") or {})
        labels.update(_pairs(rest, "LABEL"))
        cfg["Labels"] = labels
    elif word == "EXPOSE":
        ports = dict(cfg.get("ExposedPorts") or {})
        for p in rest.split():
            ports[p if "/" in p else f"{p}/tcp"] = {}
        cfg["ExposedPorts"] = ports
    elif word == "VOLUME":
        vols = dict(cfg.get("Volumes") or {})
        items = json.loads(rest) if rest.startswith("[") else rest.split()
        for v in items:
            vols[v] = {}
        cfg["Volumes"] = vols
    elif word == "USER":
        cfg["User"] = rest
    elif word == "WORKDIR":
        cfg["WorkingDir"] = rest
    elif word == "STOPSIGNAL":
        cfg["StopSignal"] = rest
    elif word == "ONBUILD":
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), rest]

"""The instructions that only change the image config (CMD, ENTRYPOINT, ENV,
LABEL, EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, HEALTHCHECK, SHELL,
ONBUILD): each yields the new config and Docker's `#(nop)` history line; the
image is one empty-layer history entry on the parent."""

from __future__ import annotations

import json
import signal as _signal
from typing import Any

from berth.build import words
from berth.build.cache import step_key
from berth.build.instructions import (
    Command,
    Healthcheck,
    Instruction,
    KeyValues,
    Onbuild,
    Shell,
    Single,
    Words,
    parse_duration,
)
from berth.build.state import StageState, StepOutcome, dump
from berth.errors import InvalidArgument


def nop_outcome(cfg: dict[str, Any], text: str, **kw: Any) -> StepOutcome:
    created_by = f"/bin/sh -c #(nop)  {text}"
    return StepOutcome(cfg, created_by, step_key("nop", created_by, dump(cfg)), **kw)


def config_step(
    state: StageState, inst: Instruction, cfg: dict[str, Any], env: dict[str, str], esc: str
) -> StepOutcome:
    """`cfg` (a copy of the stage's config) changed by `inst`, as a step outcome."""

    def nop(text: str, **kw: Any) -> StepOutcome:
        return nop_outcome(cfg, text, **kw)

    if isinstance(inst, Command):
        args = list(inst.args) if inst.exec_form else [*state.shell, *inst.args]
        if inst.keyword == "CMD":
            cfg["Cmd"] = args
            state.cmd_set = True
        else:
            cfg["Entrypoint"] = args
            if not state.cmd_set:
                cfg["Cmd"] = None
        return nop(f"{inst.keyword} {json.dumps(args)}")
    if isinstance(inst, KeyValues):
        pairs = [(words.expand(k, env, esc), words.expand(v, env, esc)) for k, v in inst.pairs]
        if inst.keyword == "ENV":
            current = [e for e in cfg.get("Env") or []]
            for k, v in pairs:
                current = [e for e in current if e.partition("=")[0] != k]
                current.append(f"{k}={v}")
            cfg["Env"] = current
        else:
            labels = dict(cfg.get("Labels") or {})
            labels.update(pairs)
            cfg["Labels"] = labels
        shown = " ".join(f"{k}={v}" for k, v in pairs)
        return nop(f"{inst.keyword} {shown}")
    if isinstance(inst, Words):
        if inst.keyword == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            added = []
            for item in inst.items:
                for word in words.split(item, env, esc):
                    for port in _ports(word):
                        ports[port] = {}
                        added.append(port)
            cfg["ExposedPorts"] = ports
            return nop(f"EXPOSE {' '.join(added)}")
        vols = dict(cfg.get("Volumes") or {})
        items = (
            list(inst.items)
            if inst.expanded
            else [w for i in inst.items for w in words.split(i, env, esc)]
        )
        for v in items:
            if not v.strip():
                raise InvalidArgument("VOLUME specified can not be an empty string")
            vols[v] = {}
        cfg["Volumes"] = vols
        return nop(f"VOLUME {json.dumps(items)}")
    if isinstance(inst, Single):
        value = words.expand(inst.value, env, esc)
        if inst.keyword == "USER":
            cfg["User"] = value
            return nop(f"USER {value}")
        if inst.keyword == "STOPSIGNAL":
            _check_signal(value)
            cfg["StopSignal"] = value
            return nop(f"STOPSIGNAL {value}")
        return nop(f"MAINTAINER {inst.value}", author=inst.value)
    if isinstance(inst, Healthcheck):
        hc: dict[str, Any] = {"Test": list(inst.test)}
        for key, value in (
            ("Interval", inst.interval),
            ("Timeout", inst.timeout),
            ("StartPeriod", inst.start_period),
            ("StartInterval", inst.start_interval),
        ):
            if value:
                hc[key] = parse_duration(value)
        if inst.retries:
            hc["Retries"] = inst.retries
        cfg["Healthcheck"] = hc
        return nop(f"HEALTHCHECK &{{{json.dumps(hc['Test'])}}}")
    if isinstance(inst, Shell):
        cfg["Shell"] = list(inst.shell)
        return nop(f"SHELL {json.dumps(list(inst.shell))}")
    if isinstance(inst, Onbuild):
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), inst.expression]
        return nop(f"ONBUILD {inst.expression}")
    raise InvalidArgument(f"{inst.keyword} is not allowed here (line {inst.line})")


def _ports(word: str) -> list[str]:
    port, _, proto = word.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    lo, dash, hi = port.partition("-")
    try:
        start = int(lo)
        end = int(hi) if dash else start
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {port}") from None
    if not (0 < start <= end <= 65535):
        raise InvalidArgument(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _check_signal(value: str) -> None:
    if value.isdigit():
        return
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
        return
    if not hasattr(_signal.Signals, name) and name not in _signal.Signals.__members__:
        raise InvalidArgument(f"Invalid signal: {value}")

"""Which stages a build runs, in what order, and with which step numbers.

Stages form a graph: a stage depends on the stage its FROM names and on
every stage a `COPY --from` or `RUN --mount=from=` names. Only the target
stage (the last one by default) and what it depends on are built; the rest
are skipped (BuildKit's behaviour; Docker's classic builder builds them all).
Step numbers count the instructions of the stages built, in file order, as
`Step N/M` shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from berth.build import words
from berth.build.instructions import Copy, Dockerfile, Run, Stage
from berth.errors import InvalidArgument


@dataclass(slots=True)
class Plan:
    stages: list[Stage]  # the stages to build, in file order
    deps: dict[int, set[int]]  # stage index -> indexes it waits for
    step_numbers: dict[int, list[int]]
    total: int
    label_stage: int


def stage_deps(df: Dockerfile, stage: Stage, meta: Mapping[str, str] | None = None) -> set[int]:
    """Earlier stages `stage` names; names are expanded with the meta ARGs
    (`FROM ${BASE}`), as the builder will expand them."""
    out: set[int] = set()

    def ref(raw: str) -> None:
        try:
            name = words.expand(raw, meta or {}, df.escape)
        except InvalidArgument:
            name = raw
        other = df.stage(name)
        if other is not None and other.index < stage.index:
            out.add(other.index)

    ref(stage.base.image)
    for inst in stage.instructions:
        if isinstance(inst, Copy) and inst.from_:
            ref(inst.from_)
        if isinstance(inst, Run):
            for m in inst.mounts:
                if m.options.get("from"):
                    ref(m.options["from"])
    return out


def make_plan(
    df: Dockerfile, target: str = "", labels: bool = False, meta: Mapping[str, str] | None = None
) -> Plan:
    if target:
        chosen = df.stage(target)
        if chosen is None:
            raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")
    else:
        chosen = df.stages[-1]
    deps = {s.index: stage_deps(df, s, meta) for s in df.stages}
    needed: set[int] = set()
    todo = [chosen.index]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        todo.extend(deps[i])
    stages = [s for s in df.stages if s.index in needed]
    numbers: dict[int, list[int]] = {}
    n = 0
    for s in stages:
        count = 1 + len(s.instructions) + (1 if labels and s.index == chosen.index else 0)
        numbers[s.index] = list(range(n + 1, n + count + 1))
        n += count
    return Plan(stages, {i: deps[i] & needed for i in needed}, numbers, n, chosen.index)

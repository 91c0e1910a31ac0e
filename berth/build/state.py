"""What a stage carries from step to step, and what a step produces.

`StageState` is the stage's current image and container config plus its
ARGs; `StepOutcome` is a step before it runs: the config it results in, its
history line, its cache key, and how to make its image when the cache misses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from berth.build.instructions import Stage

DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass(slots=True)
class StageState:
    """Where a stage is: its current image and container config, its ARGs and shell."""

    stage: Stage
    image_id: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False

    def env(self) -> dict[str, str]:
        out = dict(self.args)
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"


@dataclass(slots=True)
class StepOutcome:
    """What a step does after the cache missed: make an image from the parent."""

    config: dict[str, Any]
    created_by: str
    key: str
    make: Callable[[], str] | None = None  # returns the new image id; None: config only
    author: str = ""


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]

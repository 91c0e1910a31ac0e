"""Whether the kernel's OOM killer ended a container: the `oom_kill` counter of
its memory cgroup (v1 ``memory.oom_control``, v2 ``memory.events``), read
before the runtime deletes the cgroup.
"""

from __future__ import annotations

import contextlib
import json
import os
import re

_CGROUPS_PATH = re.compile(rb'"cgroupsPath"\s*:\s*("(?:[^"\\]|\\.)*")')


def memory_cgroup_files(bundle: str, cid: str) -> list[str]:
    """The files whose `oom_kill` counter tells whether the container was OOM-killed."""
    # A regular expression, not json.load: the config holds a whole seccomp
    # profile, and parsing it would leave its objects' pages dirty in the shim.
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            found = _CGROUPS_PATH.search(f.read())
    except OSError:
        return []
    cg = json.loads(found.group(1)) if found else ""
    if ":" in cg:  # systemd's slice:prefix:name form: not resolved here
        return []
    if not cg.startswith("/"):
        base = "/"
        with contextlib.suppress(OSError), open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    base = path
                    break
        cg = os.path.join(base, cg or cid)
    rel = cg.lstrip("/")
    return [
        os.path.join("/sys/fs/cgroup/memory", rel, "memory.oom_control"),
        os.path.join("/sys/fs/cgroup", rel, "memory.events"),
    ]


def oom_kills(files: list[str]) -> int:
    for path in files:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0

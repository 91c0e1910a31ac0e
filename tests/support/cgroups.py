"""cgroup directories on the host, in every hierarchy (v1 controllers and v2)."""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_dirs(*names: str) -> list[str]:
    """Every cgroup directory named one of `names`, at any depth of any hierarchy.

    (os.walk skips directories that vanish mid-walk: other tests on this machine
    create and remove cgroups all the time.)
    """
    wanted = set(names)
    found = []
    for top, dirs, _ in os.walk(CGROUP_ROOT):
        found += [os.path.join(top, d) for d in dirs if d in wanted]
    return found

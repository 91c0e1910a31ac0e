"""Reading a running container's cgroup files (stats); limits are changed through
the runtime (`RUNTIME update`), which owns the cgroup.

The spec the daemon writes puts every container at cgroups path
`/berth/<id>`; on this host's hybrid layout that is
`/sys/fs/cgroup/<controller>/berth/<id>` (v1), on a pure v2 host
`/sys/fs/cgroup/berth/<id>`. cgroupfs is just files, so this module is
plain reads and writes; `root` is a parameter so tests can use a directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Cgroup:
    root: Path
    rel: str  # "berth/<id>"
    v2: bool

    @classmethod
    def of(cls, cid: str, root: Path = Path("/sys/fs/cgroup"), parent: str = "berth") -> Cgroup:
        v2 = (root / "cgroup.controllers").exists()
        return cls(root, f"{parent}/{cid}", v2)

    def path(self, controller: str) -> Path:
        return self.root / self.rel if self.v2 else self.root / controller / self.rel

    def read(self, controller: str, name: str) -> str | None:
        try:
            return (self.path(controller) / name).read_text()
        except OSError:
            return None

    def read_int(self, controller: str, name: str) -> int | None:
        text = self.read(controller, name)
        if text is None:
            return None
        text = text.strip()
        if text == "max":
            return None
        try:
            return int(text)
        except ValueError:
            return None

    def read_kv(self, controller: str, name: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in (self.read(controller, name) or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
        return out

    def exists(self) -> bool:
        return self.path("memory").exists() if not self.v2 else self.path("").exists()

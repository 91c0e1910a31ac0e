"""Mount option words of config.json (`ro`, `nosuid`, `rbind`, `rslave`, `mode=755` ...)
turned into mount(2) flags, propagation changes and the filesystem's data string."""

from __future__ import annotations

from berth.linux import mount as m

# word -> (clear?, flag)
_FLAGS = {
    "defaults": (False, 0),
    "ro": (False, m.MS_RDONLY),
    "rw": (True, m.MS_RDONLY),
    "suid": (True, m.MS_NOSUID),
    "nosuid": (False, m.MS_NOSUID),
    "dev": (True, m.MS_NODEV),
    "nodev": (False, m.MS_NODEV),
    "exec": (True, m.MS_NOEXEC),
    "noexec": (False, m.MS_NOEXEC),
    "sync": (False, m.MS_SYNCHRONOUS),
    "async": (True, m.MS_SYNCHRONOUS),
    "dirsync": (False, m.MS_DIRSYNC),
    "remount": (False, m.MS_REMOUNT),
    "mand": (False, m.MS_MANDLOCK),
    "nomand": (True, m.MS_MANDLOCK),
    "atime": (True, m.MS_NOATIME),
    "noatime": (False, m.MS_NOATIME),
    "diratime": (True, m.MS_NODIRATIME),
    "nodiratime": (False, m.MS_NODIRATIME),
    "relatime": (False, m.MS_RELATIME),
    "norelatime": (True, m.MS_RELATIME),
    "strictatime": (False, m.MS_STRICTATIME),
    "nostrictatime": (True, m.MS_STRICTATIME),
    "bind": (False, m.MS_BIND),
    "rbind": (False, m.MS_BIND | m.MS_REC),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW),
    "symfollow": (True, m.MS_NOSYMFOLLOW),
}
PROPAGATION = {
    "private": m.MS_PRIVATE,
    "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED,
    "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE,
    "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE,
    "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}
# Words runc accepts that change nothing for a plain mount(2).
_IGNORED = frozenset({"tmpcopyup", "idmap", "ridmap", "loud", "silent"})


class MountOptions:
    """Mount flags, propagation changes (applied one by one after), data string.
    (A plain class: `dataclasses` costs every berth-runc start more than it saves.)"""

    __slots__ = ("data", "flags", "propagation")

    def __init__(self, flags: int, propagation: tuple[int, ...], data: str) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MountOptions):
            return NotImplemented
        return (self.flags, self.propagation, self.data) == (
            other.flags,
            other.propagation,
            other.data,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MountOptions(flags={self.flags:#x}, propagation={self.propagation}, data={self.data!r})"

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)


def parse(options: list[str]) -> MountOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for word in options:
        if word in _FLAGS:
            clear, flag = _FLAGS[word]
            flags = flags & ~flag if clear else flags | flag
        elif word in PROPAGATION:
            propagation.append(PROPAGATION[word])
        elif word not in _IGNORED:
            data.append(word)
    return MountOptions(flags, tuple(propagation), ",".join(data))


def propagation_flag(name: str) -> int:
    """The flags for a `rootfsPropagation` value; KeyError names an unknown one."""
    return PROPAGATION[name]

"""Planned cgroupfs writes, and the device rules every container gets."""

from __future__ import annotations

from berth.oci.spec import Resources


class Write:
    """One cgroupfs write: `value` into `file` of the container's cgroup of `controller`.
    (A plain class: `dataclasses` costs every berth-runc start more than it saves.)"""

    __slots__ = ("controller", "file", "value")

    def __init__(self, controller: str, file: str, value: str) -> None:
        self.controller = controller
        self.file = file
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Write):
            return NotImplemented
        return (self.controller, self.file, self.value) == (
            other.controller,
            other.file,
            other.value,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Write({self.controller!r}, {self.file!r}, {self.value!r})"


# Devices a container may always use, appended after the spec's own rules as runc
# does: null, zero, full, tty, random, urandom, the console, pty masters and
# slaves, and mknod (not use) of any device.
DEFAULT_DEVICE_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
)


def device_rules(resources: Resources) -> list[tuple[bool, str]]:
    """(allow?, "type major:minor access") for the spec's rules, then the defaults."""
    rules: list[tuple[bool, str]] = []
    for r in resources.devices:
        kind = r.type or "a"
        major = "*" if r.major is None or r.major < 0 else str(r.major)
        minor = "*" if r.minor is None or r.minor < 0 else str(r.minor)
        access = r.access or "rwm"
        rules.append(
            (
                r.allow,
                "a"
                if kind == "a" and major == minor == "*"
                else f"{kind} {major}:{minor} {access}",
            )
        )
    if rules:
        rules.extend((True, rule) for rule in DEFAULT_DEVICE_RULES)
    return rules

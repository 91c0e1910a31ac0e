"""The typed messages the runtime and its container processes exchange on a
SOCK_SEQPACKET socketpair during `create` and `exec` (see create.py).

One message is one packet: a JSON object whose "kind" is the class name. A
process that fails sends `Failed` with a one-line reason and exits; the
receiver raises it as the error of the whole command.

The messages are small slotted classes over `Message` rather than dataclasses:
this module is on every `create`'s import path, and seven generated classes
cost berth-runc about 2 ms per start.
"""

from __future__ import annotations

import os

from berth.errors import InternalError
from berth.runtime import jsonc


class Message:
    """Fields are the class's __slots__; equality and repr by value."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *args: object, **kwargs: object) -> None:
        names = type(self).__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes {len(names)} fields")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names or key in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {key!r}")
            values[key] = value
        if len(values) != len(names):
            raise TypeError(f"{type(self).__name__} needs fields {', '.join(names)}")
        for key, value in values.items():
            setattr(self, key, value)

    def fields(self) -> dict:
        return {name: getattr(self, name) for name in type(self).__slots__}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.fields() == other.fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields().items())
        return f"{type(self).__name__}({inner})"


class CgroupReady(Message):
    """runtime -> its first child: the container's cgroup exists now; join it."""

    __slots__ = ()


class MapIds(Message):
    """intermediate -> runtime: I unshared a user namespace; write my uid/gid maps."""

    __slots__ = ("pid",)
    pid: int


class IdsMapped(Message):
    """runtime -> intermediate: the maps are written."""

    __slots__ = ()


class InitPid(Message):
    """intermediate -> runtime: the container's init has this host pid."""

    __slots__ = ("pid",)
    pid: int


class MountsReady(Message):
    """init -> runtime: the mounts are made, before pivot_root; run createRuntime hooks."""

    __slots__ = ()


class Resume(Message):
    """runtime -> init: the hooks ran; carry on."""

    __slots__ = ()


class Ready(Message):
    """init -> runtime: set up; now waiting on the exec fifo (or about to exec)."""

    __slots__ = ()


class Failed(Message):
    """any process -> runtime: a step failed; `reason` is the one-line error."""

    __slots__ = ("reason",)
    reason: str


_KINDS = {
    cls.__name__: cls
    for cls in (CgroupReady, MapIds, IdsMapped, InitPid, MountsReady, Resume, Ready, Failed)
}


class ProcessFailed(InternalError):
    """A container-side process reported `Failed`, or vanished without a word."""


def send(fd: int, message: Message) -> None:
    body = {"kind": type(message).__name__, **message.fields()}
    os.write(fd, jsonc.dumps(body).encode())


def receive(fd: int, expected: type, who: str):
    """The next message, which must be `expected`; `Failed` and EOF become ProcessFailed."""
    raw = os.read(fd, 65536)
    if not raw:
        raise ProcessFailed(f"{who} exited during setup without reporting")
    body = jsonc.loads(raw)
    cls = _KINDS[body.pop("kind")]
    message = cls(**body)
    if isinstance(message, Failed):
        raise ProcessFailed(message.reason)
    if not isinstance(message, expected):
        raise ProcessFailed(f"{who} sent {cls.__name__}, expected {expected.__name__}")
    return message

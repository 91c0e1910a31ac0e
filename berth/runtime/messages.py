"""The typed messages the runtime and its container processes exchange on a
SOCK_SEQPACKET socketpair during `create` and `exec` (see create.py).

One message is one packet: a JSON object whose "kind" is the class name. A
process that fails sends `Failed` with a one-line reason and exits; the
receiver raises it as the error of the whole command.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from berth.errors import InternalError


@dataclass(slots=True)
class MapIds:
    """intermediate -> runtime: I unshared a user namespace; write my uid/gid maps."""

    pid: int


@dataclass(slots=True)
class IdsMapped:
    """runtime -> intermediate: the maps are written."""


@dataclass(slots=True)
class InitPid:
    """intermediate -> runtime: the container's init has this host pid."""

    pid: int


@dataclass(slots=True)
class MountsReady:
    """init -> runtime: the mounts are made, before pivot_root; run createRuntime hooks."""


@dataclass(slots=True)
class Resume:
    """runtime -> init: the hooks ran; carry on."""


@dataclass(slots=True)
class Ready:
    """init -> runtime: set up; now waiting on the exec fifo (or about to exec)."""


@dataclass(slots=True)
class Failed:
    """any process -> runtime: a step failed; `reason` is the one-line error."""

    reason: str


_KINDS = {
    cls.__name__: cls for cls in (MapIds, IdsMapped, InitPid, MountsReady, Resume, Ready, Failed)
}


class ProcessFailed(InternalError):
    """A container-side process reported `Failed`, or vanished without a word."""


def send(fd: int, message: object) -> None:
    body = {"kind": type(message).__name__, **asdict(message)}
    os.write(fd, json.dumps(body).encode())


def receive(fd: int, expected: type, who: str):
    """The next message, which must be `expected`; `Failed` and EOF become ProcessFailed."""
    raw = os.read(fd, 65536)
    if not raw:
        raise ProcessFailed(f"{who} exited during setup without reporting")
    body = json.loads(raw)
    cls = _KINDS[body.pop("kind")]
    message = cls(**body)
    if isinstance(message, Failed):
        raise ProcessFailed(message.reason)
    if not isinstance(message, expected):
        raise ProcessFailed(f"{who} sent {cls.__name__}, expected {expected.__name__}")
    return message

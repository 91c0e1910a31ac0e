"""Reading a container's json-file log (written by its shim) for `logs`.

Each line is Docker's json-file record: {"log": "...", "stream":
"stdout"|"stderr", "time": RFC3339Nano}. Rotated files (`<log>.1`, `.2` ...)
are read oldest first. `follow` polls for growth until the container stops.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from berth.daemon.timefmt import parse_time_nano

STDOUT, STDERR = 1, 2


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: type, 3 zero bytes, big-endian size."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def _files(path: Path) -> list[Path]:
    rotated = []
    n = 1
    while (path.parent / f"{path.name}.{n}").exists():
        rotated.append(path.parent / f"{path.name}.{n}")
        n += 1
    return [*reversed(rotated), path]


def _parse(line: bytes) -> tuple[str, str, bytes] | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec.get("stream", "stdout"), rec.get("time", ""), rec.get("log", "").encode()


def read(
    path: Path,
    *,
    follow: bool,
    since: int | None,
    until: int | None,
    tail: int,
    timestamps: bool,
    stdout: bool,
    stderr: bool,
    multiplex: bool,
    running: Callable[[], bool],
    poll: float = 0.1,
) -> Iterator[bytes]:
    wanted = {"stdout"} if stdout else set()
    if stderr:
        wanted.add("stderr")

    def render(rec: tuple[str, str, bytes]) -> bytes | None:
        stream, ts, data = rec
        if stream not in wanted:
            return None
        if since is not None or until is not None:
            t = parse_time_nano(ts) or 0
            if since is not None and t < since:
                return None
            if until is not None and t > until:
                return None
        if timestamps:
            data = ts.encode() + b" " + data
        if multiplex:
            return frame(STDERR if stream == "stderr" else STDOUT, data)
        return data

    records: deque[tuple[str, str, bytes]] | list[tuple[str, str, bytes]]
    records = deque(maxlen=tail) if tail >= 0 else []
    if tail != 0:
        for f in _files(path)[:-1]:
            with open(f, "rb") as fh:
                for line in fh:
                    rec = _parse(line)
                    if rec is not None and rec[0] in wanted:
                        records.append(rec)
    offset = 0
    try:
        fh = open(path, "rb")  # noqa: SIM115 - kept across the follow loop
    except FileNotFoundError:
        fh = None
    try:
        if fh is not None:
            partial = b""
            for line in fh:
                if not line.endswith(b"\n"):
                    partial = line
                    break
                rec = _parse(line)
                if rec is not None and rec[0] in wanted and tail != 0:
                    records.append(rec)
            offset = fh.tell() - len(partial)
        for rec in records:
            out = render(rec)
            if out:
                yield out
        if not follow:
            return
        ino = os.fstat(fh.fileno()).st_ino if fh is not None else None
        buf = b""
        idle = 0
        while True:
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115
                    ino = os.fstat(fh.fileno()).st_ino
                    offset = 0
                except FileNotFoundError:
                    if not running():
                        return
                    time.sleep(poll)
                    continue
            fh.seek(offset)
            chunk = fh.read(1 << 16)
            if chunk:
                offset += len(chunk)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    rec = _parse(line)
                    if rec is not None:
                        out = render(rec)
                        if out:
                            yield out
                continue
            try:
                if os.stat(path).st_ino != ino:  # rotated: continue in the new file
                    fh.close()
                    fh = None
                    continue
            except FileNotFoundError:
                pass
            if until is not None and time.time_ns() > until:
                return
            if not running():
                return
            time.sleep(poll)
            idle += 1
            if idle % 10 == 0:
                yield b""  # a heartbeat: lets the server notice a client that left
    finally:
        if fh is not None:
            fh.close()

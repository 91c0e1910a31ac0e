"""Docker's json-file log: one JSON object per line of container output.

``{"log":"hello\\n","stream":"stdout","time":"2026-11-29T04:29:44.123456789Z"}``

Output is split at newlines; a line without its newline is held until the
newline comes, the held text passes 16 KiB (written as a partial entry, as
Docker does), or the stream ends. With ``max_size`` > 0 the file is rotated
before an entry would make it larger: ``<log>`` becomes ``<log>.1``, ``.1``
becomes ``.2`` ... up to ``max_file - 1`` old files (``max_file`` 1 truncates).
Writes go straight to the file descriptor (no buffering in the shim), so the
daemon's `logs -f` sees each line as soon as the container prints it.
"""

from __future__ import annotations

import os
import time
from json.encoder import encode_basestring  # the C escaper; no full json import

from berth.timestamps import format_ns

PARTIAL_MAX = 16 * 1024


rfc3339nano = format_ns  # the json-file driver's "time": Go's RFC3339Nano


def entry(text: bytes, stream: str, ns: int) -> bytes:
    """One log line (with its newline)."""
    log = encode_basestring(text.decode("utf-8", "replace"))
    return f'{{"log":{log},"stream":"{stream}","time":"{rfc3339nano(ns)}"}}\n'.encode()


class JsonLog:
    """The writer for one container's log file; not thread-safe (the shim has one thread)."""

    def __init__(self, path: str, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self._held: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, stream: str, data: bytes) -> None:
        """Log output of `stream` ("stdout" or "stderr"), line by line."""
        now = time.time_ns()
        data = self._held[stream] + data
        out = []
        start = 0
        while (nl := data.find(b"\n", start)) >= 0:
            out.append(entry(data[start : nl + 1], stream, now))
            start = nl + 1
        rest = data[start:]
        while len(rest) >= PARTIAL_MAX:
            out.append(entry(rest[:PARTIAL_MAX], stream, now))
            rest = rest[PARTIAL_MAX:]
        self._held[stream] = rest
        for line in out:
            self._append(line)

    def flush(self) -> None:
        """Write what is held (the stream ended without a final newline)."""
        now = time.time_ns()
        for stream, rest in self._held.items():
            if rest:
                self._append(entry(rest, stream, now))
                self._held[stream] = b""

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, line: bytes) -> None:
        if self.max_size > 0 and self._size > 0 and self._size + len(line) > self.max_size:
            self._rotate()
        os.write(self._fd, line)
        self._size += len(line)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file > 1:
            for n in range(self.max_file - 1, 1, -1):
                try:
                    os.rename(f"{self.path}.{n - 1}", f"{self.path}.{n}")
                except FileNotFoundError:
                    pass
            os.rename(self.path, f"{self.path}.1")
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o640)
        self._size = 0

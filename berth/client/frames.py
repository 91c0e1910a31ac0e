"""The Engine API's multiplexed stream framing (attach/exec/logs without a tty).

Each frame is an 8-byte header, `[stream, 0, 0, 0, size (uint32 big-endian)]`,
then `size` bytes. Stream 0 is stdin, 1 stdout, 2 stderr, 3 a system error.
With a tty there is no framing: the bytes are the terminal's raw output.
"""

from __future__ import annotations

STDIN, STDOUT, STDERR, SYSERR = 0, 1, 2, 3
HEADER = 8


def encode_frame(stream: int, data: bytes) -> bytes:
    """One frame carrying `data` on `stream`."""
    return bytes((stream, 0, 0, 0)) + len(data).to_bytes(4, "big") + data


class FrameReader:
    """Incremental decoder: feed bytes as they arrive, get (stream, payload) pairs."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= HEADER:
            size = int.from_bytes(self._buf[4:8], "big")
            if len(self._buf) < HEADER + size:
                break
            out.append((self._buf[0], bytes(self._buf[HEADER : HEADER + size])))
            del self._buf[: HEADER + size]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered (non-zero at EOF means truncation)."""
        return len(self._buf)


def demux(data: bytes) -> list[tuple[int, bytes]]:
    """Decode a complete multiplexed body (a `logs` response read to the end)."""
    reader = FrameReader()
    frames = reader.feed(data)
    if reader.pending:
        raise ValueError(f"truncated stream frame: {reader.pending} bytes left over")
    return frames

"""Layer streams: detecting gzip / zstd / plain and decompressing fast.

gzip goes through `pigz -dc` in a separate process when installed (it runs in
parallel with our tar parsing and is faster than zlib; measured by
bench/unpack.py), zlib in-process otherwise; zstd through the zstandard
module. A broken stream raises InvalidArgument naming the compression.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from berth.errors import InvalidArgument

READ_SIZE = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def detect_compression(head: bytes) -> str:
    """ "gzip", "zstd" or "" from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return ""


class _Peeked:
    """A reader that gives back bytes already read for sniffing, then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._rest.read(n - len(out))
            return out
        return self._rest.read(n)


class _ZlibGzipReader:
    """gzip in-process (multi-member), for when pigz is not installed."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        want = n if n >= 0 else 1 << 62
        while len(self._buf) < want and not self._eof:
            chunk = self._raw.read(READ_SIZE)
            if not chunk:
                if not self._d.eof:
                    raise InvalidArgument("layer is a truncated gzip stream")
                self._eof = True
                break
            out = self._d.decompress(chunk)
            while self._d.eof and self._d.unused_data:
                rest = self._d.unused_data
                self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += self._d.decompress(rest)
            self._buf += out
        out, self._buf = self._buf[:want], self._buf[want:]
        return out


@contextmanager
def decompressed(stream: BinaryIO, compression: str = "auto") -> Iterator[BinaryIO]:
    """The uncompressed bytes of a layer stream; decompression errors raise InvalidArgument.

    gzip goes through `pigz -dc` (a separate process: parallel with our tar
    parsing, and faster than zlib) when installed; zstd through zstandard.
    """
    head = b""
    if compression == "auto":
        head = stream.read(4)
        compression = detect_compression(head)
        source: BinaryIO = _Peeked(head, stream)  # type: ignore[assignment]
    else:
        source = stream
    if compression == "":
        yield source
        return
    if compression == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(source, read_size=READ_SIZE)
        try:
            yield _ZstdErrors(reader)  # type: ignore[misc]
        finally:
            reader.close()
        return
    if compression != "gzip":
        raise InvalidArgument(f"unsupported layer compression: {compression}")
    pigz = shutil.which("pigz")
    if pigz is None:
        yield _ZlibGzipReader(source)  # type: ignore[misc]
        return
    with _pigz(pigz, head, stream) as out:
        yield out


class _ZstdErrors:
    def __init__(self, reader: BinaryIO) -> None:
        self._r = reader

    def read(self, n: int = -1) -> bytes:
        import zstandard

        try:
            return self._r.read(n)
        except zstandard.ZstdError as e:
            raise InvalidArgument(f"layer is not a valid zstd stream: {e}") from e


@contextmanager
def _pigz(pigz: str, head: bytes, stream: BinaryIO) -> Iterator[BinaryIO]:
    direct = not head and _has_fileno(stream)
    proc = subprocess.Popen(
        [pigz, "-dc"],
        stdin=stream if direct else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=READ_SIZE,
    )
    feeder = None
    feed_error: list[BaseException] = []
    if not direct:

        def feed() -> None:
            try:
                assert proc.stdin is not None
                if head:
                    proc.stdin.write(head)
                while chunk := stream.read(READ_SIZE):
                    proc.stdin.write(chunk)
            except BrokenPipeError:
                pass
            except BaseException as e:  # reported after the tar is read
                feed_error.append(e)
            finally:
                try:
                    proc.stdin.close()  # type: ignore[union-attr]
                except BrokenPipeError:
                    pass

        feeder = threading.Thread(target=feed, name="layer-feed", daemon=True)
        feeder.start()
    body_error: BaseException | None = None
    try:
        assert proc.stdout is not None
        yield proc.stdout  # type: ignore[misc]
    except BaseException as e:
        body_error = e
    proc.stdout.close()  # type: ignore[union-attr]  (pigz gets EPIPE if still writing)
    if feeder is not None:
        feeder.join()
    stderr = proc.stderr.read().decode(errors="replace").strip()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    rc = proc.wait()
    if rc > 0:
        # A broken gzip stream explains a broken tar better than the tar error does.
        raise InvalidArgument(
            f"layer is not a valid gzip stream: {stderr or f'pigz exit {rc}'}"
        ) from body_error
    if body_error is not None:
        raise body_error
    if feed_error:
        raise feed_error[0]


def _has_fileno(stream: BinaryIO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return hasattr(stream, "tell") and stream.tell() == 0

"""Environment variables without importing `os`.

`os` brings `posixpath` and `_collections_abc` (~1 ms of every CLI start) while
`ps` or `inspect` only read two or three variables. Once something imported
`os`, its `environ` is the truth (it sees `os.environ[...] = ...` and
`putenv` made through it); before that, `posix.environ` (the process's
environment at start, as bytes) is the same thing.
"""

from __future__ import annotations

import sys


def getenv(name: str) -> str | None:
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name)
    import posix

    value = posix.environ.get(name.encode("utf-8", "surrogateescape"))
    return None if value is None else value.decode("utf-8", "surrogateescape")

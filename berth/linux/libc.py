"""Loading libc once and turning a failed call into an OSError with context; and the
few C types the calls need.

The types and the function-pointer class are made from `_ctypes`, the C core that
`ctypes` itself is built on, rather than imported from `ctypes`: its package
runs ~2 ms of Python at import (dozens of types, endianness variants, size
checks), and berth-runc pays every millisecond of its start-up at every
container start. The classes below are defined exactly as `ctypes` defines the
ones of the same names (a `_type_` code over `_SimpleCData`; a `CFuncPtr`
returning int and saving errno); they mix freely with `ctypes`' own.
"""

from __future__ import annotations

import _ctypes
import os


class c_int(_ctypes._SimpleCData):
    _type_ = "i"


class c_uint(_ctypes._SimpleCData):
    _type_ = "I"


class c_ushort(_ctypes._SimpleCData):
    _type_ = "H"


class c_ulong(_ctypes._SimpleCData):
    _type_ = "L"


class c_uint64(_ctypes._SimpleCData):
    _type_ = "Q"


class c_char(_ctypes._SimpleCData):
    _type_ = "c"


class c_char_p(_ctypes._SimpleCData):
    _type_ = "z"


class c_void_p(_ctypes._SimpleCData):
    _type_ = "P"


c_uint32 = c_uint
c_size_t = c_ulong
Structure = _ctypes.Structure
POINTER = _ctypes.POINTER
byref = _ctypes.byref
addressof = _ctypes.addressof
get_errno = _ctypes.get_errno


class _Function(_ctypes.CFuncPtr):
    """A C function returning int (until its `restype` says otherwise), errno saved."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


class Library:
    """A loaded shared library; its functions are attributes (set `argtypes`,
    `restype` on them as with ctypes.CDLL). `Library(None)`: the process's own."""

    def __init__(self, name: str | None) -> None:
        self._name = name
        self._handle = _ctypes.dlopen(name, 0)

    def __getattr__(self, name: str) -> _Function:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        function = _Function((name, self))
        setattr(self, name, function)
        return function


libc = Library(None)


def check(result: int, what: str) -> int:
    """Return result, or raise OSError(errno) naming `what` when the call failed."""
    if result == -1:
        err = get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result

"""The kinds of error berth raises, shared by every layer.

Code raises one of these with the object's name in the message ("No such
container: web"); `berth/api` maps each kind to an Engine API status code in a
single table, and `berth/client` maps status codes back to these kinds, so a
caller on either side of the socket handles the same exceptions.
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of every error berth raises on purpose. Unknown exceptions are bugs."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(BerthError):
    """The request is malformed: bad reference, bad flag value, bad JSON body (400)."""


class Unauthorized(BerthError):
    """Credentials are missing or wrong (401)."""


class Forbidden(BerthError):
    """The operation is refused for this object, whatever the input (403)."""


class NotFound(BerthError):
    """The named object does not exist (404)."""


class Conflict(BerthError):
    """The object's state or name forbids the operation (409)."""


class NotModified(BerthError):
    """The object is already in the requested state (304)."""


class Unavailable(BerthError):
    """A dependency (runtime, registry, shim) cannot be reached now (503)."""


class NotImplementedYet(BerthError):
    """A valid request berth does not support (501)."""


class InternalError(BerthError):
    """An operation failed for a reason outside the caller's control (500)."""

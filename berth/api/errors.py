"""The one table turning `berth.errors` kinds into Engine API status codes."""

from __future__ import annotations

from berth import errors
from berth.api.router import MethodNotAllowed

STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (MethodNotAllowed, 405),
    (errors.NotModified, 304),
    (errors.InvalidArgument, 400),
    (errors.Unauthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InternalError, 500),
    (errors.NotImplementedYet, 501),
    (errors.Unavailable, 503),
)


def status_of(exc: BaseException) -> int:
    """Status for an exception; anything that is not a berth error is a 500."""
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 500

"""HTTP status codes back to berth's error kinds: the client half of the one table.

`berth/api` turns each kind into a status; this module turns the status back into
the same kind, so code on either side of the socket catches the same exceptions.
"""

from __future__ import annotations

from berth import errors

KINDS: dict[int, type[errors.BerthError]] = {
    304: errors.NotModified,
    400: errors.InvalidArgument,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    500: errors.InternalError,
    501: errors.NotImplementedYet,
    503: errors.Unavailable,
}


def error_message(body: bytes, status: int) -> str:
    """The daemon's `{"message": ...}`, or the raw body when it is not JSON."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        from berth import jsoncodec

        try:
            message = jsoncodec.loads(text).get("message")
        except ValueError:
            message = None
        if isinstance(message, str):
            return message
    return text or f"HTTP status {status}"


def raise_for_status(status: int, body: bytes) -> None:
    """Raise the berth error kind for a failed status; return for 1xx/2xx."""
    if status < 300:
        return
    kind = KINDS.get(status)
    if kind is None:
        kind = errors.InvalidArgument if 400 <= status < 500 else errors.InternalError
    error = kind(error_message(body, status))
    error.status = status  # type: ignore[attr-defined]
    raise error

"""Method + path pattern -> handler. Patterns use `{name}` (one segment) and
`{name:path}` (the rest, slashes included: image names like `library/busybox`).

A handler is `handler(daemon, request) -> response`; route modules add theirs
in `register(router)` (see `berth.api.app.ROUTE_MODULES`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from berth.errors import NotFound

Handler = Callable[[Any, Any], Any]


class MethodNotAllowed(NotFound):
    """The path exists with other methods (405)."""


def _compile(pattern: str) -> re.Pattern[str]:
    out = "^"
    pos = 0
    for m in re.finditer(r"\{(\w+)(:path)?\}", pattern):
        out += re.escape(pattern[pos : m.start()])
        out += f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
        pos = m.end()
    return re.compile(out + re.escape(pattern[pos:]) + "$")


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        for m, p, _, _ in self._routes:
            if m == method and p == pattern:
                raise ValueError(f"route {method} {pattern} registered twice")
        self._routes.append((method, pattern, _compile(pattern), handler))

    def get(self, pattern: str, handler: Handler) -> None:
        self.add("GET", pattern, handler)
        self.add("HEAD", pattern, handler) if pattern == "/_ping" else None

    def post(self, pattern: str, handler: Handler) -> None:
        self.add("POST", pattern, handler)

    def put(self, pattern: str, handler: Handler) -> None:
        self.add("PUT", pattern, handler)

    def delete(self, pattern: str, handler: Handler) -> None:
        self.add("DELETE", pattern, handler)

    def head(self, pattern: str, handler: Handler) -> None:
        self.add("HEAD", pattern, handler)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        allowed = False
        for m, _, regex, handler in self._routes:
            found = regex.match(path)
            if found is None:
                continue
            if m == method:
                return handler, found.groupdict()
            allowed = True
        if allowed:
            raise MethodNotAllowed(f"method {method} not allowed for {path}")
        raise NotFound("page not found")

    def routes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self._routes]

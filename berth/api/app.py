"""The Engine API application: the registry of route modules and the dispatch.

ROUTE_MODULES is the explicit list of route modules. Each module exposes
`register(router: berth.api.router.Router) -> None` and adds handlers of the
form `handler(daemon: berth.daemon.daemon.Daemon, req: Request) -> response`.
A helper adding an area (networks, volumes, build, distribution) appends one
line here and nothing else. Handlers parse, make one call into a service and
render: no decisions here.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import time
from typing import Any

from berth.api import version as api_version
from berth.api.errors import status_of
from berth.api.http import Handler, Request, Response
from berth.api.router import Router
from berth.errors import BerthError, InvalidArgument

log = logging.getLogger(__name__)

ROUTE_MODULES: tuple[str, ...] = (
    "berth.api.system",
    "berth.api.containers",
    "berth.api.execs",
    "berth.api.images",
    "berth.api.networks",
    "berth.api.volumes",
    "berth.api.distribution",
    "berth.api.build",
    # other areas: one line each
)

_VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)$")


def build_router(modules: tuple[str, ...] = ROUTE_MODULES) -> Router:
    router = Router()
    for name in modules:
        importlib.import_module(name).register(router)
    return router


class App:
    """Dispatches one parsed HTTP request to its route handler."""

    def __init__(self, daemon: Any, router: Router | None = None) -> None:
        self.daemon = daemon
        self.router = router or build_router()
        self.common_headers = {
            "Api-Version": api_version.API_VERSION,
            "Docker-Experimental": "false",
            "Ostype": "linux",
            "Server": "berth/" + _berth_version(),
        }

    def serve(self, conn: Handler) -> None:
        t0 = time.perf_counter()
        path, query = conn.split_target()
        body = conn.body_reader()
        try:
            version, path = self._version(path)
            handler, params = self.router.match(conn.command, path)
            req = Request(conn.command, path, query, conn.headers, body, version, params)
            resp = handler(self.daemon, req)
        except Exception as exc:  # every failure becomes a response
            resp = self._error(conn.command, path, exc)
        if not body.drain():
            conn.close_connection = True
        conn.write_response(resp)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %.1f ms", conn.command, path, (time.perf_counter() - t0) * 1000)

    def _version(self, path: str) -> tuple[str, str]:
        m = _VERSIONED.match(path)
        if not m:
            return api_version.API_VERSION, path
        version = m.group(1)
        if api_version.parse(version) > api_version.parse(api_version.API_VERSION):
            raise InvalidArgument(
                f"client version {version} is too new. Maximum supported API version is "
                f"{api_version.API_VERSION}"
            )
        if api_version.parse(version) < api_version.parse(api_version.MIN_API_VERSION):
            raise InvalidArgument(
                f"client version {version} is too old. Minimum supported API version is "
                f"{api_version.MIN_API_VERSION}, please upgrade your client to a newer version"
            )
        return version, m.group(2)

    def _error(self, method: str, path: str, exc: Exception) -> Response:
        status = status_of(exc)
        if isinstance(exc, BerthError):
            message = exc.message
            log.debug("%s %s: %d %s", method, path, status, message)
        else:
            message = f"{type(exc).__name__}: {exc}"
            log.exception("%s %s failed", method, path)
        if status == 304:
            return Response(304, b"", None)
        return Response(status, json.dumps({"message": message}).encode() + b"\n")


def _berth_version() -> str:
    try:
        from importlib.metadata import version

        return version("berth")
    except Exception:
        return "0.1.0"

"""The route and service registries: every listed module loads and registers,
and no route is claimed twice."""

import importlib

from berth.api.app import ROUTE_MODULES, build_router
from berth.daemon.registry import SERVICES


def test_every_route_module_registers_once():
    router = build_router()
    routes = router.routes()
    assert len(routes) == len(set(routes))
    for needed in [("GET", "/_ping"), ("POST", "/containers/create"), ("POST", "/exec/{id}/start"),
                   ("GET", "/images/{name:path}/json"), ("GET", "/events")]:  # fmt: skip
        assert needed in routes
    assert ROUTE_MODULES[:4] == (
        "berth.api.system",
        "berth.api.containers",
        "berth.api.execs",
        "berth.api.images",
    )


def test_every_service_module_has_a_factory():
    for name, module in SERVICES:
        assert callable(importlib.import_module(module).create), name


def test_dispatch_by_pattern():
    router = build_router()
    _, params = router.match("GET", "/images/localhost:5000/team/app:1/json")
    assert params == {"name": "localhost:5000/team/app:1"}
    _, params = router.match("POST", "/containers/abc/start")
    assert params == {"id": "abc"}

"""/networks and /volumes handlers: Docker's JSON shapes and status codes.

The services are the real ones (a NetworkManager whose host is a throwaway
namespace, a VolumeManager on a temporary data root); only the daemon around
them is reduced to its `service(name)` lookup.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from berth.api.errors import status_of
from berth.api.http import BodyReader, Request
from berth.api.router import Router
from berth.daemon.networks import NetworkService
from berth.daemon.volumes import VolumeService
from berth.db import open_db
from berth.network.manager import ManagerConfig, NetworkManager
from berth.volumes.manager import VolumeManager


class Containers:
    """The two containers these tests know, as the container service would resolve them."""

    def __init__(self) -> None:
        self.known = {"web": SimpleNamespace(id="a" * 64, name="/web")}

    def get(self, ref: str):
        from berth.errors import NotFound

        for c in self.known.values():
            if ref in (c.id, c.name.lstrip("/")) or c.id.startswith(ref):
                return c
        raise NotFound(f"No such container: {ref}")


class Daemon:
    def __init__(self, networks, volumes) -> None:
        self._s = {"networks": networks, "volumes": volumes}

    def service(self, name):
        return self._s[name]


@pytest.fixture
def api(host_ns, exec_root, tmp_path):
    import berth.api.networks
    import berth.api.volumes
    from berth.daemon.networks import _Containers

    db = open_db(tmp_path / "berth.db")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    mgr = NetworkManager(
        db,
        ManagerConfig(
            exec_root=exec_root, host_netns=host_ns, default_bridge="btapi0", resolv_conf=resolv
        ),
    )
    networks = NetworkService(mgr, _Containers(Containers()))
    volumes = VolumeService(VolumeManager(db, tmp_path / "data"))
    router = Router()
    berth.api.networks.register(router)
    berth.api.volumes.register(router)
    daemon = Daemon(networks, volumes)

    def call(method: str, path: str, body=None, query=None):
        handler, params = router.match(method, path)
        data = json.dumps(body).encode() if body is not None else b""
        req = Request(
            method,
            path,
            {k: [v] for k, v in (query or {}).items()},
            {},
            BodyReader(io.BytesIO(data), len(data), False),
            "1.43",
            params,
        )
        try:
            resp = handler(daemon, req)
        except Exception as e:  # the app turns these into statuses with this table
            return status_of(e), {"message": str(e)}
        return resp.status, json.loads(resp.body) if resp.body else None

    try:
        yield call
    finally:
        mgr.shutdown_host_state()


def test_network_lifecycle_shapes_and_codes(api):
    status, body = api(
        "POST",
        "/networks/create",
        {
            "Name": "appnet",
            "IPAM": {"Config": [{"Subnet": "10.78.0.0/24"}]},
            "Labels": {"tier": "app"},
        },
    )
    assert status == 201 and len(body["Id"]) == 64 and body["Warning"] == ""
    status, net = api("GET", "/networks/appnet")
    assert status == 200
    assert net["Name"] == "appnet" and net["Driver"] == "bridge" and net["Scope"] == "local"
    assert net["IPAM"]["Config"] == [{"Subnet": "10.78.0.0/24", "Gateway": "10.78.0.1"}]
    assert net["Labels"] == {"tier": "app"} and net["Containers"] == {}
    status, nets = api("GET", "/networks")
    assert {n["Name"] for n in nets} >= {"bridge", "host", "none", "appnet"}
    _, custom = api("GET", "/networks", query={"filters": json.dumps({"type": ["custom"]})})
    assert [n["Name"] for n in custom] == ["appnet"]
    assert api("POST", "/networks/create", {"Name": "appnet"})[0] == 409
    assert (
        api(
            "POST",
            "/networks/create",
            {"Name": "other", "IPAM": {"Config": [{"Subnet": "10.78.0.128/25"}]}},
        )[0]
        == 403
    )
    assert (
        api(
            "POST",
            "/networks/create",
            {"Name": "bad", "IPAM": {"Config": [{"Subnet": "nonsense"}]}},
        )[0]
        == 400
    )
    assert api("GET", "/networks/nope")[0] == 404
    assert (
        api(
            "POST",
            "/networks/appnet/connect",
            {"Container": "web", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.9.9.9"}}},
        )[0]
        == 400
    )
    assert api("POST", "/networks/appnet/connect", {"Container": "ghost"})[0] == 404
    assert (
        api(
            "POST",
            "/networks/appnet/connect",
            {"Container": "web", "EndpointConfig": {"Aliases": ["www"]}},
        )[0]
        == 200
    )
    assert api("DELETE", "/networks/appnet")[0] == 403  # in use
    assert api("POST", "/networks/appnet/disconnect", {"Container": "web"})[0] == 200
    assert api("DELETE", "/networks/bridge")[0] == 403
    assert api("DELETE", "/networks/appnet")[0] == 204
    api("POST", "/networks/create", {"Name": "unused1"})
    status, pruned = api("POST", "/networks/prune")
    assert status == 200 and pruned == {"NetworksDeleted": ["unused1"]}


def test_volume_lifecycle_shapes_and_codes(api):
    status, vol = api("POST", "/volumes/create", {"Name": "dbdata", "Labels": {"a": "b"}})
    assert (
        status == 201
        and vol["Name"] == "dbdata"
        and vol["Driver"] == "local"
        and vol["Mountpoint"].endswith("/dbdata/_data")
    )
    assert api("GET", "/volumes/dbdata")[1]["Labels"] == {"a": "b"}
    status, listing = api("GET", "/volumes")
    assert (
        status == 200
        and [v["Name"] for v in listing["Volumes"]] == ["dbdata"]
        and listing["Warnings"] == []
    )
    assert api("GET", "/volumes/nope")[0] == 404
    assert api("POST", "/volumes/create", {"Name": "bad name"})[0] == 400
    assert api("POST", "/volumes/create", {"Name": "v2", "DriverOpts": {"bogus": "1"}})[0] == 400
    assert api("POST", "/volumes/create", {"Name": "v3", "Driver": "nfs-plugin"})[0] == 404
    status, anon = api("POST", "/volumes/create", {})
    assert status == 201 and len(anon["Name"]) == 64
    status, pruned = api("POST", "/volumes/prune")
    assert pruned["VolumesDeleted"] == [anon["Name"]]
    status, pruned = api("POST", "/volumes/prune", query={"filters": json.dumps({"all": ["true"]})})
    assert pruned["VolumesDeleted"] == ["dbdata"]
    assert api("DELETE", "/volumes/dbdata")[0] == 404
    assert api("DELETE", "/volumes/dbdata", query={"force": "1"})[0] == 204

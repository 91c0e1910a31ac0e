"""Routes of /networks: Docker's JSON in and out; the decisions are NetworkService's.

Handlers reach the service as `daemon.service("networks")` (berth/daemon/networks.py).
"""

from __future__ import annotations

from typing import Any

from berth.api.http import Request, Response, json_response
from berth.errors import InvalidArgument
from berth.network.driver import NetworkRecord


def network_json(net: NetworkRecord, endpoints: list[Any] | None = None) -> dict:
    """Docker's Network object (inspect, and each element of list)."""
    containers = {}
    prefix = net.subnet.split("/")[1] if net.subnet else ""
    for ep in endpoints or []:
        if not ep.ip:
            continue  # stopped containers are attached but have no endpoint yet
        containers[ep.container_id] = {
            "Name": ep.container_name,
            "EndpointID": ep.endpoint_id,
            "MacAddress": ep.mac or "",
            "IPv4Address": f"{ep.ip}/{prefix}",
            "IPv6Address": "",
        }
    config = []
    if net.subnet:
        entry = {"Subnet": net.subnet, "Gateway": net.gateway or ""}
        if net.ip_range and net.ip_range != net.subnet:
            entry["IPRange"] = net.ip_range
        config.append(entry)
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if net.predefined else {}, "Config": config},
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": dict(net.options),
        "Labels": dict(net.labels),
    }


def list_networks(daemon: Any, req: Request) -> Response:
    views = daemon.service("networks").list(req.filters())
    return json_response([network_json(v.net, v.endpoints) for v in views])


def inspect_network(daemon: Any, req: Request) -> Response:
    view = daemon.service("networks").inspect_network(req.params["id"])
    return json_response(network_json(view.net, view.endpoints))


def _str_dict(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: expected an object")
    return {str(k): str(v) for k, v in value.items()}


def create_network(daemon: Any, req: Request) -> Response:
    body = req.json_object()
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("network name is required")
    if body.get("EnableIPv6"):
        raise InvalidArgument("IPv6 networks are not supported")
    ipam = body.get("IPAM") or {}
    if (ipam.get("Driver") or "default") != "default":
        raise InvalidArgument(f"IPAM driver {ipam['Driver']!r} is not supported")
    configs = ipam.get("Config") or []
    if len(configs) > 1:
        raise InvalidArgument("only one IPAM config (one subnet) per network is supported")
    cfg = configs[0] if configs else {}
    net = daemon.service("networks").create(
        name,
        driver=body.get("Driver") or "bridge",
        subnet=cfg.get("Subnet") or None,
        gateway=cfg.get("Gateway") or None,
        ip_range=cfg.get("IPRange") or None,
        internal=bool(body.get("Internal")),
        attachable=bool(body.get("Attachable")),
        labels=_str_dict(body.get("Labels"), "Labels"),
        options=_str_dict(body.get("Options"), "Options"),
    )
    return json_response({"Id": net.id, "Warning": ""}, status=201)


def remove_network(daemon: Any, req: Request) -> Response:
    daemon.service("networks").remove(req.params["id"])
    return Response(204, b"", None)


def connect_network(daemon: Any, req: Request) -> Response:
    body = req.json_object()
    container = body.get("Container")
    if not container:
        raise InvalidArgument("container is required")
    ep = body.get("EndpointConfig") or {}
    ipam = ep.get("IPAMConfig") or {}
    daemon.service("networks").connect(
        req.params["id"],
        container,
        aliases=tuple(ep.get("Aliases") or ()),
        ip=ipam.get("IPv4Address") or None,
    )
    return Response(200, b"", None)


def disconnect_network(daemon: Any, req: Request) -> Response:
    body = req.json_object()
    container = body.get("Container")
    if not container:
        raise InvalidArgument("container is required")
    daemon.service("networks").disconnect(
        req.params["id"], container, force=bool(body.get("Force"))
    )
    return Response(200, b"", None)


def prune_networks(daemon: Any, req: Request) -> Response:
    return json_response({"NetworksDeleted": daemon.service("networks").prune(req.filters())})


def register(router: Any) -> None:
    router.get("/networks", list_networks)
    router.post("/networks/create", create_network)
    router.post("/networks/prune", prune_networks)
    router.get("/networks/{id}", inspect_network)
    router.delete("/networks/{id}", remove_network)
    router.post("/networks/{id}/connect", connect_network)
    router.post("/networks/{id}/disconnect", disconnect_network)

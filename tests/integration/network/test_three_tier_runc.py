"""The seed's three-tier application on berth's networks and volumes, with real containers.

runc runs the containers (berthd is not needed for this layer): a database writes
a file on a named volume; a backend serves it with busybox httpd; a frontend,
published on a host port, fetches it from the backend *by name* through the
embedded DNS and serves it; the host side fetches it through 127.0.0.1.
The database is removed and recreated and the data stays. Then everything is
removed and nothing of berth's is left in the host namespace.
"""

from __future__ import annotations

import pytest

from berth.db import open_db
from berth.network import netlink
from berth.network.manager import EndpointRequest, ManagerConfig, NetworkManager, SandboxRequest
from berth.volumes.manager import VolumeManager
from berth.volumes.mounts import collect

from .conftest import http_get, links_gone
from .runc_helper import Runc

FRONTEND_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "frontend says:"
wget -q -O - http://api/records.txt
"""


@pytest.fixture
def world(host_ns, exec_root, tmp_path, busybox_rootfs):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    db = open_db(tmp_path / "berth.db")
    nets = NetworkManager(
        db,
        ManagerConfig(
            exec_root=exec_root, host_netns=host_ns, default_bridge="bttier0", resolv_conf=resolv
        ),
    )
    vols = VolumeManager(db, tmp_path / "data")
    runc = Runc(tmp_path / "runc", busybox_rootfs)
    try:
        yield nets, vols, runc
    finally:
        runc.cleanup()
        nets.shutdown_host_state()


def _start(
    nets, vols, runc, name, args, *, binds=(), endpoints=(), ports=None, detach=True, rootfs=None
):
    cid = f"{name:0<64}"[:64]
    nets.register_container(cid, name, "tier", list(endpoints))
    sb = nets.setup(SandboxRequest(cid, name, name, network_mode="tier", port_bindings=ports or {}))
    mounts = [m.oci for m in vols.resolve(cid, collect(list(binds)), rootfs)]
    run_id = runc.run(
        name,
        args,
        netns=sb.netns_path,
        mounts=mounts,
        hosts=sb.hosts,
        resolv=sb.resolv_conf,
        detach=detach,
    )
    return cid, run_id, sb


def _remove(nets, vols, runc, cid, run_id):
    runc.stop(run_id)
    nets.unregister_container(cid)
    vols.release(cid, remove_anonymous=True)


def test_three_tier_application(world, host_ns, tmp_path):
    nets, vols, runc = world
    net = nets.create_network("tier", subnet="10.79.0.0/24")
    vols.create("dbdata")

    # the database writes its data and exits
    db_cid, db_run, _ = _start(
        nets, vols, runc, "database",
        ["sh", "-c", "echo 'row 1 from the database' > /var/lib/db/records.txt"],
        binds=["dbdata:/var/lib/db"], detach=False,
    )  # fmt: skip
    _remove(nets, vols, runc, db_cid, db_run)

    api_cid, api_run, _ = _start(
        nets, vols, runc, "backend", ["httpd", "-f", "-p", "80", "-h", "/srv"],
        binds=["dbdata:/srv:ro"], endpoints=[EndpointRequest("tier", aliases=("api",))],
    )  # fmt: skip
    www = tmp_path / "www"
    (www / "cgi-bin").mkdir(parents=True)
    (www / "cgi-bin" / "index.cgi").write_text(FRONTEND_CGI)
    (www / "cgi-bin" / "index.cgi").chmod(0o755)
    fe_cid, fe_run, fe = _start(
        nets, vols, runc, "frontend", ["httpd", "-f", "-p", "8080", "-h", "/www"],
        binds=[f"{www}:/www:ro"], ports={"8080/tcp": [{"HostPort": ""}]},
    )  # fmt: skip
    port = int(fe.ports["8080/tcp"][0]["HostPort"])
    host = f"/run/netns/{host_ns}"
    body = http_get(host, "127.0.0.1", port, "/cgi-bin/index.cgi")
    assert body == "frontend says:\nrow 1 from the database\n"

    # remove and recreate the database container: the data stays on the volume
    db_cid, db_run, _ = _start(
        nets, vols, runc, "database",
        ["sh", "-c", "echo 'row 2 from the database' >> /var/lib/db/records.txt"],
        binds=["dbdata:/var/lib/db"], detach=False,
    )  # fmt: skip
    _remove(nets, vols, runc, db_cid, db_run)
    body = http_get(host, "127.0.0.1", port, "/cgi-bin/index.cgi")
    assert body == "frontend says:\nrow 1 from the database\nrow 2 from the database\n"

    # everything goes; nothing of berth's stays in the host namespace
    veths = [e.host_ifname for e in nets.endpoints("tier")]
    for cid, run_id in ((fe_cid, fe_run), (api_cid, api_run)):
        _remove(nets, vols, runc, cid, run_id)
    nets.remove("tier")
    vols.remove("dbdata")
    assert links_gone(host_ns, [*veths, net.bridge])
    assert (
        not any(p.exists() for p in (nets.netns_dir).iterdir()) if nets.netns_dir.exists() else True
    )
    assert not any("DNAT" in r for r in nets.iptables.list_rules("nat", "BERTH"))
    assert not netlink.link_exists(net.bridge, host_ns)

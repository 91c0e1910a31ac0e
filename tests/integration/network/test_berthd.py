"""End to end through berthd: the three-tier application with berth's CLI and with docker's.

A user network, a database container writing to a named volume, a backend
serving that file by name (`api` alias), a frontend published on a host port
that fetches from the backend through the embedded DNS; the host fetches the
page from 127.0.0.1. Recreating the database keeps the data. Afterwards
nothing of the daemon's remains on the host.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from berth.network.netlink import host_routes
from tests.support.berthd import Berthd, private_berthd
from tests.support.poll import wait_until
from tests.support.rootfs import make_busybox_rootfs

from .berthd_fixture import busybox_image_tar

CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho 'frontend says:'\nwget -q -O - http://api/records.txt\n"


def _free_subnet() -> str:
    routes = host_routes()
    for third in range(100, 250):
        cand = ipaddress.IPv4Network(f"10.42.{third}.0/24")
        if not any(cand.overlaps(r) for r in routes):
            return str(cand)
    pytest.skip("no free subnet")


@pytest.fixture(scope="module")
def daemon():
    """A private berthd (shared harness): after the module, no container, mount, shim,
    bridge, chain or proxy of it may remain."""
    with private_berthd("bdnet-", busybox=False) as d:
        yield d


def _cli(kind: str, daemon: Berthd) -> list[str]:
    if kind == "docker":
        exe = shutil.which("docker")
        if exe is None:
            pytest.skip("docker CLI is not installed")
        return [exe, "-H", daemon.host]
    return daemon.cli_argv()


def _run(cli: list[str], *args: str, check: bool = True, timeout: float = 60) -> str:
    p = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {p.returncode}: {p.stdout}{p.stderr}")
    return p.stdout


def _fetch(port: int, path: str) -> str:
    """GET http://127.0.0.1:PORT/PATH, polled until it answers (20 s)."""
    answers: list[str] = []

    def get() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                answers.append(r.read().decode())
            return True
        except OSError:
            return False

    wait_until(get, 20, f"an answer from 127.0.0.1:{port}{path}", interval=0.1)
    return answers[-1]


def _import_busybox(cli: list[str], img: str, tmp_path: Path) -> None:
    """`import -` the busybox test rootfs as `img`."""
    tar = busybox_image_tar(tmp_path, make_busybox_rootfs)
    with tar.open("rb") as f:
        p = subprocess.run([*cli, "import", "-", img], stdin=f, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr


def _database(cli: list[str], net: str, vol: str, img: str, script: str) -> None:
    """The database container: write to the volume, exit, and be removed."""
    cid = _run(
        cli, "run", "-d", "--network", net, "-v", f"{vol}:/var/lib/db", img, "sh", "-c", script
    ).strip()
    assert _run(cli, "wait", cid).strip() == "0"
    _run(cli, "rm", cid)


@pytest.mark.parametrize("kind", ["berth", "docker"])
def test_three_tier_through_berthd(daemon, kind, tmp_path):
    cli = _cli(kind, daemon)
    img = f"bt-busybox-{kind}"
    _import_busybox(cli, img, tmp_path)
    www = tmp_path / "www"
    (www / "cgi-bin").mkdir(parents=True)
    (www / "cgi-bin" / "index.cgi").write_text(CGI)
    (www / "cgi-bin" / "index.cgi").chmod(0o755)
    net, vol = f"tier-{kind}", f"dbdata-{kind}"
    try:
        _run(cli, "network", "create", "--subnet", _free_subnet(), net)
        _run(cli, "volume", "create", vol)
        _database(cli, net, vol, img, "echo 'row 1 from the database' > /var/lib/db/records.txt")
        _run(cli, "run", "-d", "--name", f"backend-{kind}", "--network", net, "--network-alias", "api",
             "-v", f"{vol}:/srv:ro", img, "httpd", "-f", "-p", "80", "-h", "/srv")  # fmt: skip
        _run(cli, "run", "-d", "--name", f"frontend-{kind}", "--network", net, "-p", "127.0.0.1::8080",
             "-v", f"{www}:/www:ro", img, "httpd", "-f", "-p", "8080", "-h", "/www")  # fmt: skip
        port = int(_run(cli, "port", f"frontend-{kind}", "8080/tcp").split()[0].rsplit(":", 1)[1])
        assert _fetch(port, "/cgi-bin/index.cgi") == "frontend says:\nrow 1 from the database\n"
        _database(cli, net, vol, img, "echo 'row 2 from the database' >> /var/lib/db/records.txt")
        assert _fetch(port, "/cgi-bin/index.cgi").endswith(
            "row 1 from the database\nrow 2 from the database\n"
        )
        # in use: refused, with Docker's wording
        err = subprocess.run([*cli, "volume", "rm", vol], capture_output=True, text=True)
        assert err.returncode != 0 and "in use" in err.stderr
        err = subprocess.run([*cli, "network", "rm", net], capture_output=True, text=True)
        assert err.returncode != 0 and "active endpoints" in err.stderr
    finally:
        _run(cli, "rm", "-f", f"frontend-{kind}", f"backend-{kind}", check=False)
        _run(cli, "network", "rm", net, check=False)
        _run(cli, "volume", "rm", vol, check=False)
    assert net not in _run(cli, "network", "ls")
    assert not [x for x in daemon.leftovers() if x.startswith(("netns", "proxy"))]


def test_connect_publish_all_and_bad_input_with_docker_cli(daemon, tmp_path):
    import json

    cli = _cli("docker", daemon)
    img = "bt-busybox-extra"
    _import_busybox(cli, img, tmp_path)
    subnet = _free_subnet()
    try:
        _run(cli, "network", "create", "--subnet", subnet, "--label", "kind=test", "extra")
        err = subprocess.run(
            [*cli, "network", "create", "--subnet", subnet, "extra2"],
            capture_output=True,
            text=True,
        )
        assert err.returncode != 0 and "overlaps" in err.stderr
        assert "extra2" not in _run(cli, "network", "ls")
        err = subprocess.run(
            [*cli, "run", "-d", "--network", "nosuchnet", img, "true"],
            capture_output=True,
            text=True,
        )
        assert err.returncode != 0 and "not found" in err.stderr
        net_ = ipaddress.IPv4Network(subnet)
        fixed = str(net_.network_address + 77)
        _run(
            cli,
            "run",
            "-d",
            "--name",
            "fixed-ip",
            "--network",
            "extra",
            "--ip",
            fixed,
            img,
            "sleep",
            "60",
        )
        shown_ip = json.loads(_run(cli, "inspect", "fixed-ip"))[0]["NetworkSettings"]["Networks"][
            "extra"
        ]
        assert shown_ip["IPAddress"] == fixed
        err = subprocess.run(
            [*cli, "run", "-d", "--network", "extra", "--ip", "192.0.2.250", img, "true"],
            capture_output=True,
            text=True,
        )
        assert err.returncode != 0 and "does not belong" in err.stderr
        _run(cli, "rm", "-f", "fixed-ip")
        _run(
            cli,
            "run",
            "-d",
            "--name",
            "pall",
            "-P",
            "--expose",
            "80",
            "--expose",
            "53/udp",
            img,
            "sleep",
            "60",
        )
        ports = _run(cli, "port", "pall")
        assert "80/tcp -> 0.0.0.0:" in ports and "53/udp -> 0.0.0.0:" in ports
        _run(cli, "network", "connect", "--alias", "second", "extra", "pall")
        info = json.loads(_run(cli, "inspect", "pall"))[0]
        nets = info["NetworkSettings"]["Networks"]
        assert set(nets) == {"bridge", "extra"} and nets["extra"]["Aliases"] == ["second"]
        assert ipaddress.IPv4Address(nets["extra"]["IPAddress"]) in ipaddress.IPv4Network(subnet)
        shown = json.loads(_run(cli, "network", "inspect", "extra"))[0]
        assert info["Id"] in shown["Containers"] and shown["Labels"] == {"kind": "test"}
        # a host port someone else holds: Docker's error, and nothing left of the start
        import socket

        proxies_before = [x for x in daemon.leftovers() if x.startswith("proxy")]
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        try:
            err = subprocess.run(
                [
                    *cli,
                    "run",
                    "-d",
                    "--name",
                    "clash",
                    "-p",
                    f"127.0.0.1:{taken}:80",
                    img,
                    "sleep",
                    "60",
                ],
                capture_output=True,
                text=True,
            )
        finally:
            holder.close()
        assert err.returncode != 0 and "port is already allocated" in err.stderr
        clash_id = _run(cli, "inspect", "--format", "{{.Id}}", "clash").strip()
        assert not (daemon.exec_root / "netns" / clash_id).exists()
        assert [x for x in daemon.leftovers() if x.startswith("proxy")] == proxies_before
        _run(cli, "rm", "-f", "clash", check=False)
        _run(cli, "network", "disconnect", "extra", "pall")
        assert (
            "extra"
            not in json.loads(_run(cli, "inspect", "pall"))[0]["NetworkSettings"]["Networks"]
        )
    finally:
        _run(cli, "rm", "-f", "pall", "fixed-ip", "clash", check=False)
        _run(cli, "network", "rm", "extra", check=False)
    assert "pall" not in _run(cli, "ps", "-a")


def test_volumes_and_mounts_with_docker_cli(daemon, tmp_path):
    import json

    cli = _cli("docker", daemon)
    img = "bt-busybox-vol"
    _import_busybox(cli, img, tmp_path)

    def run_to_end(*args: str) -> str:
        cid = _run(cli, "run", "-d", *args).strip()
        assert _run(cli, "wait", cid).strip() == "0", _run(cli, "logs", cid)
        return cid

    made: list[str] = []
    try:
        # a new named volume on /etc is first filled with the image's /etc
        made.append(run_to_end("-v", "btetc:/etc", img, "true"))
        mountpoint = json.loads(_run(cli, "volume", "inspect", "btetc"))[0]["Mountpoint"]
        assert "root:x:0:0" in Path(mountpoint, "passwd").read_text()
        # anonymous volume, shared with --volumes-from, removed by rm -v
        writer = run_to_end("-v", "/shared", img, "sh", "-c", "echo shared-data > /shared/f")
        made.append(writer)
        anon = json.loads(_run(cli, "inspect", writer))[0]["Mounts"][0]["Name"]
        reader = run_to_end(
            "--volumes-from", f"{writer}:ro", img, "sh", "-c", "cat /shared/f && ! touch /shared/g"
        )
        made.append(reader)
        assert _run(cli, "logs", reader).strip() == "shared-data"
        _run(cli, "rm", reader)
        _run(cli, "rm", "-v", writer)
        assert anon not in _run(cli, "volume", "ls", "-q")
        # --mount bind with a missing source is an error; -v creates it; --tmpfs is a tmpfs
        missing = tmp_path / "not-there"
        err = subprocess.run(
            [*cli, "create", "--mount", f"type=bind,src={missing},dst=/x", img, "true"],
            capture_output=True,
            text=True,
        )
        assert err.returncode != 0 and "does not exist" in err.stderr and not missing.exists()
        made.append(
            run_to_end(
                "-v",
                f"{missing}:/x",
                "--tmpfs",
                "/scratch:size=1m",
                img,
                "sh",
                "-c",
                "grep ' /scratch tmpfs' /proc/mounts && echo hi > /x/out",
            )
        )
        assert (missing / "out").read_text() == "hi\n"
        # cp out of a container never follows a symlink to the host
        trap = run_to_end(img, "ln", "-s", "/", "/escape")
        made.append(trap)
        secret = tmp_path / "host-secret"
        secret.write_text("host only\n")
        out = subprocess.run(
            [*cli, "cp", f"{trap}:/escape{secret}", str(tmp_path / "copied")],
            capture_output=True,
            text=True,
        )
        assert out.returncode != 0 and not (tmp_path / "copied").exists()
    finally:
        for cid in made:
            _run(cli, "rm", "-f", "-v", cid, check=False)
        _run(cli, "volume", "rm", "btetc", check=False)


def test_hosts_and_resolv_conf_flags(daemon, tmp_path):
    cli = _cli("docker", daemon)
    img = "bt-busybox-files"
    _import_busybox(cli, img, tmp_path)
    cid = _run(cli, "run", "-d", "--hostname", "box", "--add-host", "db.local:10.1.2.3", "--dns", "192.0.2.53",
               "--dns-search", "corp.test", img, "cat", "/etc/hosts", "/etc/resolv.conf").strip()  # fmt: skip
    try:
        assert _run(cli, "wait", cid).strip() == "0"
        out = _run(cli, "logs", cid)
        assert "10.1.2.3\tdb.local" in out and "\tbox\n" in out
        assert "nameserver 192.0.2.53" in out and "search corp.test" in out
    finally:
        _run(cli, "rm", "-f", cid, check=False)


def test_network_create_options_with_docker_cli(daemon):
    import json
    import secrets

    from berth.network import netlink

    cli = _cli("docker", daemon)
    net = ipaddress.IPv4Network(_free_subnet())
    hosts_ = list(net.hosts())
    bridge = f"bt{secrets.token_hex(4)}"
    _run(cli, "network", "create", "--subnet", str(net), "--gateway", str(hosts_[-1]),
         "--ip-range", str(list(net.subnets(new_prefix=25))[1]), "--internal", "--label", "a=b",
         "-o", f"com.docker.network.bridge.name={bridge}", "opts")  # fmt: skip
    try:
        shown = json.loads(_run(cli, "network", "inspect", "opts"))[0]
        assert shown["Internal"] is True and shown["Labels"] == {"a": "b"}
        assert shown["IPAM"]["Config"] == [
            {
                "Subnet": str(net),
                "Gateway": str(hosts_[-1]),
                "IPRange": str(list(net.subnets(new_prefix=25))[1]),
            }
        ]
        assert shown["Options"]["com.docker.network.bridge.name"] == bridge
        assert netlink.link_exists(bridge)
        assert "opts" in _run(cli, "network", "ls", "--filter", "label=a=b")
    finally:
        _run(cli, "network", "rm", "opts", check=False)
    assert not netlink.link_exists(bridge)


def test_daemon_restart_keeps_connectivity(daemon, tmp_path):
    cli = _cli("docker", daemon)
    img = "bt-busybox-restart"
    _import_busybox(cli, img, tmp_path)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("survives restarts\n")
    try:
        _run(cli, "network", "create", "--subnet", _free_subnet(), "live")
        _run(cli, "run", "-d", "--name", "live-web", "--network", "live", "-p", "127.0.0.1::80",
             "-v", f"{www}:/www:ro", img, "httpd", "-f", "-p", "80", "-h", "/www")  # fmt: skip
        _run(cli, "run", "-d", "--name", "live-peer", "--network", "live", img, "sleep", "300")
        port = int(_run(cli, "port", "live-web", "80/tcp").split()[0].rsplit(":", 1)[1])
        assert _fetch(port, "/") == "survives restarts\n"
        daemon.stop()
        assert _fetch(port, "/") == "survives restarts\n"  # proxy and NAT outlive berthd
        daemon.start()
        cli = _cli("docker", daemon)
        assert _fetch(port, "/") == "survives restarts\n"
        # the embedded DNS is back in the peer's namespace
        out = _run(cli, "exec", "live-peer", "wget", "-q", "-O", "-", "http://live-web/")
        assert out == "survives restarts\n"
    finally:
        _run(cli, "rm", "-f", "live-web", "live-peer", check=False)
        _run(cli, "network", "rm", "live", check=False)


def test_stopped_daemon_leaves_nothing_on_the_host(daemon):
    """Runs last in this module: no bridge, veth, namespace, chain or proxy remains."""
    daemon.stop()
    assert daemon.leftovers() == []

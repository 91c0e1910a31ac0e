"""berthd --bridge=none --iptables=false, as the differential tests start dockerd:
containers get loopback only, and a user network gets a bridge but no NAT rules."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from .conftest import Berthd, _mounts_under


@pytest.fixture
def plain_berthd():
    if os.geteuid() != 0:
        pytest.skip("berthd needs root")
    root = Path(tempfile.mkdtemp(prefix="bd-nb-", dir="/tmp"))
    d = Berthd(
        root, root / "data", root / "exec", root / "b.sock", root / "berthd.log",
        extra_args=("--bridge=none", "--iptables=false"),
    )  # fmt: skip
    d.start()
    try:
        status, body = d.request("POST", "/berth/images/busybox")
        assert status == 201, body
        yield d
    finally:
        d.stop()
        for target in reversed(_mounts_under([d.data_root, d.exec_root])):
            subprocess.run(["umount", "-l", target], check=False)


def _berth_rules() -> list[str]:
    rules = []
    for table in ("filter", "nat"):
        out = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
        rules += [r for r in out.stdout.splitlines() if "BT" in r or "BERTH" in r]
    return rules


def test_no_default_bridge_and_no_nat_rules(plain_berthd):
    d = plain_berthd
    before = _berth_rules()
    links = d.docker("run", "--rm", "busybox", "ip", "-o", "link").stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    d.docker("network", "create", "nb-net")
    try:
        out = d.docker("run", "--rm", "--network", "nb-net", "busybox", "ip", "-o", "-4", "addr")
        assert " eth0 " in out.stdout
        assert _berth_rules() == before
    finally:
        d.docker("network", "rm", "nb-net")

"""berthd --bridge=none --iptables=false, as the differential tests start dockerd:
containers get loopback only, and a user network gets a bridge but no NAT rules."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.berthd import private_berthd


@pytest.fixture
def plain_berthd():
    with private_berthd("bd-nb-", args=("--bridge=none", "--iptables=false")) as d:
        yield d


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

"""Published ports' rules go in and out with one iptables-restore each (in a throwaway namespace)."""

from __future__ import annotations

import pytest

from berth.network import nat
from berth.network.bridge import BridgeDriver
from berth.network.driver import NetworkRecord

from .conftest import in_ns


@pytest.fixture
def driver(host_ns):
    ipt = nat.Iptables(f"/run/netns/{host_ns}")
    chains = nat.Chains("BTBATCH")
    ipt.setup(chains)
    try:
        yield BridgeDriver(host_netns=host_ns, iptables=ipt, chains=chains), ipt
    finally:
        ipt.teardown(chains)


NET = NetworkRecord("n" * 64, "batchnet", "bridge", subnet="10.91.0.0/24", bridge="btbatch0")
MAPPINGS = [
    nat.PortMapping("tcp", "", 18080, "10.91.0.2", 80),
    nat.PortMapping("udp", "127.0.0.1", 15353, "10.91.0.2", 53),
]


def _rules(host_ns: str) -> str:
    return in_ns(f"/run/netns/{host_ns}", "iptables-save").stdout


def test_publish_and_unpublish_every_rule(host_ns, driver):
    drv, ipt = driver
    drv.publish(NET, MAPPINGS)
    for m in MAPPINGS:
        for rule in nat.port_rules(drv.chains, "btbatch0", m):
            assert ipt.has(rule), rule
    drv.unpublish(NET, MAPPINGS)
    text = _rules(host_ns)
    assert "18080" not in text and "15353" not in text and "10.91.0.2" not in text


def test_unpublish_still_removes_the_rest_when_one_rule_is_gone(host_ns, driver):
    """Someone deleted one rule by hand: the batch fails as a whole, berth then
    removes the others one by one."""
    drv, ipt = driver
    drv.publish(NET, MAPPINGS)
    gone = nat.port_rules(drv.chains, "btbatch0", MAPPINGS[0])[0]
    ipt.delete([gone])
    drv.unpublish(NET, MAPPINGS)
    text = _rules(host_ns)
    assert "18080" not in text and "15353" not in text and "10.91.0.2" not in text

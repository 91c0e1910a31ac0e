"""berthd's network options -> ManagerConfig (berth.daemon.networks.manager_config)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from berth.daemon.networks import manager_config


def _opts(**kw) -> SimpleNamespace:
    base = {"bridge": None, "bip": None, "iptables": True, "userland_proxy": None}
    return SimpleNamespace(**{**base, **kw})


def test_unset_userland_proxy_means_kernel_dnat_for_loopback():
    assert manager_config(Path("/run/berth"), _opts()).userland_proxy is False


def test_userland_proxy_true_keeps_dockers_loopback_proxy():
    assert manager_config(Path("/run/berth"), _opts(userland_proxy=True)).userland_proxy is True
    assert manager_config(Path("/run/berth"), _opts(userland_proxy=False)).userland_proxy is False


def test_names_and_other_flags():
    cfg = manager_config(Path("/run/berth"), _opts(bip="172.31.0.0/16", iptables=False))
    assert (cfg.default_bridge, cfg.chain_prefix) == ("berth0", "BERTH")
    assert (cfg.default_subnet, cfg.iptables) == ("172.31.0.0/16", False)
    other = manager_config(Path("/tmp/x/exec"), _opts(bridge="none"))
    assert other.default_bridge is None
    assert other.chain_prefix.startswith("BT") and other.chain_prefix != "BERTH"

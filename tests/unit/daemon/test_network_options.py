"""berthd's network settings (Docker's --bridge, --bip, --iptables, --userland-proxy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berth.daemon.main import _parser, load_config_file, options_from


def options(tmp_path: Path, argv: list[str], config: dict | None = None):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(config or {}))
    args = _parser().parse_args([*argv, "--default-runtime", "x", "--add-runtime", "x=/bin/true"])
    return options_from(args, load_config_file(path, explicit=True))


def test_defaults_are_dockers(tmp_path: Path) -> None:
    o = options(tmp_path, [])
    assert (o.bridge, o.bip, o.iptables, o.userland_proxy) == (None, None, True, True)


def test_flags_in_dockers_spelling(tmp_path: Path) -> None:
    o = options(
        tmp_path,
        ["--bridge=none", "--bip", "172.31.0.0/16", "--iptables=false", "--userland-proxy=false"],
    )
    assert (o.bridge, o.bip, o.iptables, o.userland_proxy) == (
        "none",
        "172.31.0.0/16",
        False,
        False,
    )
    assert options(tmp_path, ["--iptables"]).iptables is True


def test_daemon_json_keys(tmp_path: Path) -> None:
    o = options(tmp_path, [], {"bridge": "br9", "iptables": False, "userland-proxy": False})
    assert (o.bridge, o.iptables, o.userland_proxy) == ("br9", False, False)


def test_a_bad_boolean_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        options(tmp_path, ["--iptables=maybe"])

"""berthd's registry settings: flags and daemon.json keys reach DaemonOptions."""

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


def test_defaults(tmp_path: Path) -> None:
    o = options(tmp_path, [])
    assert o.registry_mirrors == () and o.insecure_registries == ()
    assert (o.max_concurrent_downloads, o.max_concurrent_uploads) == (3, 5)


def test_flags(tmp_path: Path) -> None:
    o = options(
        tmp_path,
        ["--registry-mirror", "http://127.0.0.1:5001", "--registry-mirror", "https://m.example",
         "--insecure-registry", "10.0.0.0/8", "--max-concurrent-downloads", "7",
         "--max-concurrent-uploads", "2"],
    )  # fmt: skip
    assert o.registry_mirrors == ("http://127.0.0.1:5001", "https://m.example")
    assert o.insecure_registries == ("10.0.0.0/8",)
    assert (o.max_concurrent_downloads, o.max_concurrent_uploads) == (7, 2)


def test_daemon_json(tmp_path: Path) -> None:
    config = {
        "registry-mirrors": ["http://127.0.0.1:5001"],
        "insecure-registries": ["reg.lan:5000"],
        "max-concurrent-downloads": 4,
        "max-concurrent-uploads": 1,
    }
    o = options(tmp_path, [], config)
    assert o.registry_mirrors == ("http://127.0.0.1:5001",)
    assert o.insecure_registries == ("reg.lan:5000",)
    assert (o.max_concurrent_downloads, o.max_concurrent_uploads) == (4, 1)


def test_flag_and_file_disagreeing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="max-concurrent-downloads"):
        options(tmp_path, ["--max-concurrent-downloads", "2"], {"max-concurrent-downloads": 4})

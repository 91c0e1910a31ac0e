import json

import pytest

from berth.daemon.main import _parser, load_config_file, options_from


def _opts(argv, config=None):
    return options_from(_parser().parse_args(argv), config or {})


def test_defaults_and_flags(tmp_path):
    o = _opts(["--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "e")])
    assert o.hosts == (f"unix://{tmp_path / 'e' / 'berth.sock'}",)
    assert o.storage_driver == "overlay" and o.default_runtime in o.runtimes
    o = _opts(["-H", "unix:///x.sock", "-H", "tcp://127.0.0.1:2376", "--insecure-tcp"])
    assert o.hosts == ("unix:///x.sock", "tcp://127.0.0.1:2376") and o.insecure_tcp


def test_daemon_json_keys(tmp_path):
    cfg = {"data-root": "/srv/berth", "storage-driver": "vfs", "log-opts": {"max-size": "10m", "max-file": "3"},
           "default-shm-size": "128m", "dns": ["1.1.1.1"], "runtimes": {"mine": {"path": "/bin/true"}}}  # fmt: skip
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(cfg))
    o = _opts([], load_config_file(path, explicit=True))
    assert str(o.data_root) == "/srv/berth" and o.storage_driver == "vfs"
    assert o.log_max_size == 10 << 20 and o.log_max_file == 3
    assert o.default_shm_size == 128 << 20 and o.dns == ("1.1.1.1",)
    assert o.runtimes["mine"] == "/bin/true"


def test_conflicts_and_unknown_keys(tmp_path):
    with pytest.raises(SystemExit, match="both as a flag and in the configuration file"):
        _opts(["--storage-driver", "overlay"], {"storage-driver": "vfs"})
    path = tmp_path / "daemon.json"
    path.write_text('{"no-such-key": 1}')
    with pytest.raises(SystemExit, match="unknown keys: no-such-key"):
        load_config_file(path, explicit=True)
    with pytest.raises(SystemExit, match="does not exist"):
        load_config_file(tmp_path / "missing.json", explicit=True)
    assert load_config_file(tmp_path / "missing.json", explicit=False) == {}


def test_tls_requires_certificates():
    with pytest.raises(SystemExit, match="needs --tlscert"):
        _opts(["--tlsverify"])
    with pytest.raises(SystemExit, match="needs --tlscacert"):
        _opts(["--tlsverify", "--tlscert", "c.pem", "--tlskey", "k.pem"])

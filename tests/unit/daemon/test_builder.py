from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.oci import builder, defaults


def _rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
    )
    (etc / "group").write_text("root:x:0:\nusers:x:100:user\nuser:x:1000:\n")
    return tmp_path / "rootfs"


def _build(tmp_path, config=None, hc=None, **kw):
    cfg = {"Cmd": ["sh"], "Env": ["A=1"], **(config or {})}
    return builder.build_spec(
        builder.BuildInput(
            id="ab" * 32, config=cfg, host_config=hc or {}, rootfs=_rootfs(tmp_path),
            container_dir=tmp_path / "c", **kw,
        )
    )  # fmt: skip


def test_docker_defaults(tmp_path):
    spec = _build(tmp_path)
    d = spec.to_dict()
    assert d["hostname"] == "abababababab"
    assert d["process"]["args"] == ["sh"]
    assert sorted(d["process"]["capabilities"]["bounding"]) == sorted(defaults.DEFAULT_CAPABILITIES)
    assert "/proc/kcore" in d["linux"]["maskedPaths"]
    assert "/proc/sys" in d["linux"]["readonlyPaths"]
    assert {"type": "network"} in d["linux"]["namespaces"]
    shm = next(m for m in d["mounts"] if m["destination"] == "/dev/shm")
    assert "size=67108864" in shm["options"]
    targets = [m["destination"] for m in d["mounts"]]
    assert {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} <= set(targets)
    env = d["process"]["env"]
    assert ("A=1" in env and "HOSTNAME=" in env[2]) or any(e.startswith("PATH=") for e in env)
    assert d["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    denied = d["linux"]["seccomp"]["syscalls"][-1]["names"]
    assert "mount" in denied and "kexec_load" in denied
    assert d["linux"]["cgroupsPath"] == "/berth/" + "ab" * 32


def test_cap_add_sys_admin_allows_mount(tmp_path):
    d = _build(tmp_path, hc={"CapAdd": ["SYS_ADMIN"], "CapDrop": ["NET_RAW"]}).to_dict()
    caps = d["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_NET_RAW" not in caps
    assert "mount" not in d["linux"]["seccomp"]["syscalls"][-1]["names"]


def test_unknown_capability(tmp_path):
    with pytest.raises(InvalidArgument, match="unknown capability"):
        _build(tmp_path, hc={"CapAdd": ["FLY"]})


def test_privileged(tmp_path):
    d = _build(tmp_path, hc={"Privileged": True}).to_dict()
    assert "seccomp" not in d["linux"] and "maskedPaths" not in d["linux"]
    assert "CAP_SYS_ADMIN" in d["process"]["capabilities"]["bounding"]


def test_init_user_readonly_nnp(tmp_path):
    d = _build(
        tmp_path,
        config={"User": "user", "WorkingDir": "/tmp"},
        hc={"Init": True, "ReadonlyRootfs": True, "SecurityOpt": ["no-new-privileges"]},
        init_path="/usr/bin/tini",
    ).to_dict()
    assert d["process"]["args"] == ["/sbin/docker-init", "--", "sh"]
    assert any(
        m["destination"] == "/sbin/docker-init" and m["source"] == "/usr/bin/tini"
        for m in d["mounts"]
    )
    assert d["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [100, 1000]}
    assert "HOME=/home/user" in d["process"]["env"]
    assert d["process"]["cwd"] == "/tmp"
    assert d["root"]["readonly"] is True
    assert d["process"]["noNewPrivileges"] is True


def test_user_numeric_and_unknown(tmp_path):
    d = _build(tmp_path, config={"User": "4000:100"}).to_dict()
    assert d["process"]["user"]["uid"] == 4000 and d["process"]["user"]["gid"] == 100
    with pytest.raises(InvalidArgument, match="unable to find user nobody"):
        _build(tmp_path, config={"User": "nobody"})


def test_resources(tmp_path):
    d = _build(
        tmp_path,
        hc={"Memory": 64 << 20, "NanoCpus": 1_500_000_000, "PidsLimit": 20, "ShmSize": 1 << 20,
            "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}]},
    ).to_dict()  # fmt: skip
    res = d["linux"]["resources"]
    assert res["memory"]["limit"] == 64 << 20
    assert res["cpu"] == {"quota": 150000, "period": 100000}
    assert res["pids"] == {"limit": 20}
    assert d["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}]
    assert (
        "size=1048576" in next(m for m in d["mounts"] if m["destination"] == "/dev/shm")["options"]
    )


def test_host_network_and_joined_netns(tmp_path):
    d = _build(tmp_path, hc={"NetworkMode": "host"}).to_dict()
    assert all(ns["type"] != "network" for ns in d["linux"]["namespaces"])
    d = _build(tmp_path, netns_path="/run/netns/x").to_dict()
    assert {"type": "network", "path": "/run/netns/x"} in d["linux"]["namespaces"]


def test_no_command(tmp_path):
    with pytest.raises(InvalidArgument, match="No command specified"):
        _build(tmp_path, config={"Cmd": None})


def test_signal_numbers():
    assert builder.signal_number("SIGTERM") == 15
    assert builder.signal_number("kill") == 9
    assert builder.signal_number("10") == 10
    with pytest.raises(InvalidArgument, match="Invalid signal"):
        builder.signal_number("SIGNOPE")

"""Swappability: the same bundle under berth-runc and Debian's runc prints the
same thing and exits with the same code."""

from __future__ import annotations

import pytest

from .conftest import Bundle, Runtime, clone

PROGRAMS = {
    "identity": "id; hostname; pwd; echo $HOME; umask",
    "capabilities": "grep ^Cap /proc/self/status",
    "limits": "ulimit -n; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
    "filesystem": "touch /x; wc -c < /proc/keys; ls /dev; cat /proc/self/mounts | cut -d' ' -f2,3",
    "namespaces": "ps -o comm; cat /proc/sys/kernel/hostname; ip link | grep -c mtu",
    "exit-code": "echo bye >&2; exit 7",
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_output_and_exit_code(berth_runc: Runtime, runc: Runtime, bundle: Bundle, name: str):
    bundle.config["process"]["args"] = ["sh", "-c", PROGRAMS[name]]
    bundle.config["process"]["user"] = (
        {"uid": 1000, "gid": 1000} if name == "identity" else {"uid": 0, "gid": 0}
    )
    bundle.config["process"]["cwd"] = "/home"
    ours = berth_runc.run(Bundle(bundle.path, clone(bundle.config)))
    theirs = runc.run(Bundle(bundle.path, clone(bundle.config)))
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )


def test_rootless_example_config(berth_runc: Runtime, runc: Runtime, bundle: Bundle):
    """`spec --rootless`'s config (a user namespace, devices bound, /sys bound)."""
    from berth.runtime.example import example_config

    config = example_config(rootless=True)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "id; cat /proc/self/uid_map; ls /dev"]
    config["root"] = bundle.config["root"]
    ours = berth_runc.run(Bundle(bundle.path, clone(config)))
    theirs = runc.run(Bundle(bundle.path, clone(config)))
    assert ours.returncode == 0, ours.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        theirs.returncode,
        theirs.stdout,
        theirs.stderr,
    )

"""The environment berthd gives a container's process or an exec, as dockerd does."""

from __future__ import annotations

from berth.oci.builder import environment


def test_later_values_win_and_defaults_fill_in():
    env = environment({"Env": ["A=1", "B=2"], "Hostname": "h1"}, "/root", ["B=3"])
    assert env[:2] == ["A=1", "B=3"]
    assert "HOSTNAME=h1" in env and "HOME=/root" in env
    assert any(e.startswith("PATH=") for e in env)


def test_a_bare_name_unsets_the_variable():
    env = environment({"Env": ["A=1", "B=2"]}, "/root", ["B", "C"])
    assert "A=1" in env
    assert not any(e.split("=")[0] in ("B", "C") for e in env)

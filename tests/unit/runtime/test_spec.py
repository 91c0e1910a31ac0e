"""berth.oci.spec: config.json in and out, and the errors bad input gets."""

from __future__ import annotations

import json

import pytest

from berth.errors import InvalidArgument
from berth.oci.spec import IDMapping, Spec, dump_spec, parse_spec
from berth.runtime.example import example_config


def test_example_config_round_trips():
    data = example_config()
    spec = Spec.from_dict(data)
    assert spec.process.args == ["sh"]
    assert spec.process.capabilities.bounding == [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
    ]
    assert spec.linux.namespaces[0].type == "pid"
    assert spec.linux.resources.devices[0].allow is False
    assert json.loads(dump_spec(spec)) == data


def test_spec_spelling_of_json_names():
    spec = Spec.from_dict(
        {
            "linux": {
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "resources": {
                    "blockIO": {
                        "weight": 10,
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 5}],
                    },
                    "memory": {"kernelTCP": 1, "disableOOMKiller": True},
                },
                "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1},
            },
            "process": {
                "noNewPrivileges": True,
                "oomScoreAdj": -5,
                "user": {"additionalGids": [4]},
            },
        }
    )
    (mapping,) = spec.linux.uid_mappings
    assert isinstance(mapping, IDMapping)
    assert (mapping.container_id, mapping.host_id, mapping.size) == (0, 1000, 1)
    assert spec.linux.resources.block_io.throttle_read_iops_device[0].rate == 5
    assert spec.linux.resources.memory.disable_oom_killer is True
    assert spec.linux.seccomp.default_errno_ret == 1
    assert spec.process.user.additional_gids == [4]
    out = spec.to_dict()
    assert out["linux"]["resources"]["blockIO"]["throttleReadIOPSDevice"] == [
        {"major": 8, "minor": 0, "rate": 5}
    ]
    assert out["linux"]["resources"]["memory"] == {"kernelTCP": 1, "disableOOMKiller": True}


def test_unknown_properties_are_ignored():
    spec = Spec.from_dict({"process": {"args": ["x"], "someday": 1}, "vm": {}})
    assert spec.process.args == ["x"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ('{"process": {"args": "sh"}}', "config.json.process.args: expected an array, got str"),
        ('{"process": {"user": {"uid": "0"}}}', "process.user.uid: expected int, got str"),
        ('{"process": {"terminal": 1}}', "process.terminal: expected bool, got int"),
        ('{"root": {"readonly": true}}', "root.path: required"),
        ('{"linux": {"namespaces": [{"path": "/x"}]}}', "linux.namespaces[0].type: required"),
        ('{"process": {"args": [true]}}', "process.args[0]: expected str"),
        ("[]", "expected an object"),
    ],
)
def test_bad_config_names_the_json_path(text: str, message: str):
    with pytest.raises(InvalidArgument) as err:
        parse_spec(text, "config.json")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bool_is_not_an_int():
    with pytest.raises(InvalidArgument):
        Spec.from_dict({"process": {"user": {"uid": True}}})

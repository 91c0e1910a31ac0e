"""The seccomp section planned into libseccomp's numbers."""

from __future__ import annotations

import errno

import pytest

from berth.errors import InvalidArgument
from berth.linux import seccomp as lib
from berth.oci.spec import Seccomp, _load
from berth.runtime.seccomp import plan


def section(data: dict) -> Seccomp:
    return _load(Seccomp, data, "seccomp")


def test_plan_actions_errno_and_args():
    p = plan(
        section(
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 38,
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["same"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                    {
                        "names": ["personality"],
                        "action": "SCMP_ACT_ALLOW",
                        "args": [
                            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                        ],
                    },
                ],
            }
        )
    )
    assert p.default_action == lib.ACT_ERRNO | 38
    assert p.architectures == ("x86_64",)
    names = [(r.name, r.action, r.args) for r in p.rules]
    assert ("read", lib.ACT_ALLOW, ()) in names
    assert ("mkdir", lib.ACT_ERRNO | errno.EPERM, ()) in names  # ERRNO without errnoRet: EPERM
    assert not any(n == "same" for n, _, _ in names)  # equal to the default: skipped
    # two conditions on one argument: one rule each
    assert [r.args for r in p.rules if r.name == "personality"] == [
        ((0, lib.CMP_EQ, 0, 0),),
        ((0, lib.CMP_EQ, 8, 0),),
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"defaultAction": "SCMP_ACT_MAYBE"},
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86"]},
        {"defaultAction": "SCMP_ACT_NOTIFY"},
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["a"],
                    "action": "SCMP_ACT_KILL",
                    "args": [{"index": 0, "value": 1, "op": "LIKE"}],
                }
            ],
        },
    ],
)
def test_bad_sections(data: dict):
    with pytest.raises(InvalidArgument):
        plan(section(data))


def test_libseccomp_resolves_names():
    assert lib.resolve_syscall("read") == 0
    assert lib.resolve_syscall("no_such_call") == lib.NR_SCMP_ERROR
    assert lib.resolve_arch("x86_64") != 0

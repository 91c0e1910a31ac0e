import pytest

from berth.daemon import merge
from berth.errors import InvalidArgument

IMAGE = {"Cmd": ["sh"], "Entrypoint": None, "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/w",
         "Labels": {"from": "image"}, "StopSignal": "SIGQUIT"}  # fmt: skip


def test_image_cmd_used_when_user_gives_none():
    cfg = merge.merge_image_config({}, IMAGE)
    assert cfg["Cmd"] == ["sh"] and cfg["WorkingDir"] == "/w" and cfg["StopSignal"] == "SIGQUIT"


def test_user_cmd_wins_and_env_merges_by_key():
    cfg = merge.merge_image_config({"Cmd": ["echo", "hi"], "Env": ["A=2", "B=3"]}, IMAGE)
    assert cfg["Cmd"] == ["echo", "hi"]
    assert cfg["Env"] == ["PATH=/bin", "A=2", "B=3"]


def test_user_entrypoint_drops_image_cmd():
    cfg = merge.merge_image_config({"Entrypoint": ["/bin/echo"]}, {**IMAGE, "Entrypoint": ["x"]})
    assert cfg["Entrypoint"] == ["/bin/echo"] and not cfg.get("Cmd")


def test_empty_entrypoint_resets_image_entrypoint():
    cfg = merge.merge_image_config(
        {"Entrypoint": [], "Cmd": ["ls"]}, {**IMAGE, "Entrypoint": ["x"]}
    )
    assert cfg["Entrypoint"] == [] and cfg["Cmd"] == ["ls"]


def test_labels_merge():
    cfg = merge.merge_image_config({"Labels": {"mine": "1"}}, IMAGE)
    assert cfg["Labels"] == {"from": "image", "mine": "1"}


def test_wrong_types_get_gos_words():
    with pytest.raises(InvalidArgument, match="cannot unmarshal number into Go struct field"):
        merge.check_types({"Env": [1]})
    with pytest.raises(
        InvalidArgument, match=r"cannot unmarshal string into Go struct field HostConfig\.Memory"
    ):
        merge.check_types({"HostConfig": {"Memory": "1g"}})
    body = {"Cmd": "true"}
    merge.check_types(body)
    assert body["Cmd"] == ["true"]


@pytest.mark.parametrize(
    ("hc", "message"),
    [
        ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy"),
        (
            {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}},
            "only be used with 'on-failure'",
        ),
        ({"Memory": -1}, "must be positive"),
        ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "memoryswap limit should be larger"),
        ({"NanoCpus": 10**12}, "Range of CPUs is from 0.01"),
        ({"CpusetCpus": "0-512"}, "Requested CPUs are not available"),
        ({"PidsLimit": -5}, "invalid PIDs limit"),
        ({"BlkioWeight": 5}, "Range of blkio weight"),
        ({"AutoRemove": True, "RestartPolicy": {"Name": "always"}}, "both --restart and --rm"),
    ],
)
def test_host_config_errors(hc, message):
    with pytest.raises(InvalidArgument, match=message):
        merge.validate_host_config(hc, 2)


def test_valid_limits_pass():
    assert (
        merge.validate_host_config(
            {"Memory": 64 << 20, "NanoCpus": 500_000_000, "PidsLimit": 10}, 2
        )
        == []
    )

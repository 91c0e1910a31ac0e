"""The pflag-like parser: docker's syntax and its error wording."""

from __future__ import annotations

import pytest

from berth.cli import flags
from berth.cli.flags import BOOL, INT, LIST, STR, Flag, Spec

SPEC = Spec(
    "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Run",
    [
        Flag("-i, --interactive"),
        Flag("-t, --tty"),
        Flag("-d, --detach"),
        Flag("--rm"),
        Flag("-e, --env", LIST),
        Flag("--name", STR),
        Flag("--network, --net", STR),
        Flag("-c, --cpu-shares", INT),
        Flag("--sig-proxy", BOOL, True),
    ],
    min_args=1,
    interspersed=False,
)


def test_combined_short_flags_and_values() -> None:
    o, args = flags.parse(SPEC, ["-itd", "-eA=1", "-e", "B=2", "--name=web", "busybox", "sh"])
    assert (o["interactive"], o["tty"], o["detach"]) == (True, True, True)
    assert o["env"] == ["A=1", "B=2"]
    assert o["name"] == "web"
    assert args == ["busybox", "sh"]


def test_flags_after_the_image_belong_to_the_command() -> None:
    o, args = flags.parse(SPEC, ["--rm", "busybox", "sh", "-c", "echo -i --rm"])
    assert o["rm"] is True and o["interactive"] is False
    assert args == ["busybox", "sh", "-c", "echo -i --rm"]


def test_interspersed_commands_take_flags_anywhere() -> None:
    spec = Spec("rm", "", [Flag("-f, --force")], interspersed=True)
    o, args = flags.parse(spec, ["a", "-f", "b"])
    assert o["force"] and args == ["a", "b"]


def test_bool_values_aliases_and_ints() -> None:
    o, _ = flags.parse(SPEC, ["--sig-proxy=false", "--net", "host", "-c", "512", "img"])
    assert o["sig_proxy"] is False
    assert o["network"] == "host"
    assert o["cpu_shares"] == 512
    assert o["_set"] >= {"sig_proxy", "network", "cpu_shares"}


def test_double_dash_ends_flags() -> None:
    spec = Spec("x", "", [Flag("-f, --force")])
    o, args = flags.parse(spec, ["--", "-f"])
    assert not o["force"] and args == ["-f"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--foo", "img"], "unknown flag: --foo"),
        (["-x", "img"], "unknown shorthand flag: 'x' in -x"),
        (["--name"], "flag needs an argument: --name"),
        (["-c", "lots", "img"], 'invalid argument "lots" for "-c" flag'),
        (["--rm=maybe", "img"], 'invalid argument "maybe" for "--rm" flag'),
    ],
)
def test_errors_use_docker_wording_and_status_125(argv: list[str], message: str) -> None:
    with pytest.raises(flags.UsageError) as e:
        flags.parse(SPEC, argv)
    assert str(e.value).startswith(message)
    assert e.value.status == 125


def test_help_is_requested() -> None:
    with pytest.raises(flags.HelpRequested):
        flags.parse(SPEC, ["--help"])
    assert "--interactive" in SPEC.help_text()


def test_argument_counts_exit_1() -> None:
    with pytest.raises(flags.UsageError) as e:
        flags.check_args(SPEC, "run", [])
    assert e.value.status == 1
    assert "requires at least 1 argument" in str(e.value)
    exact = Spec("rename", "", [], 2, 2)
    with pytest.raises(flags.UsageError, match="requires 2 arguments"):
        flags.check_args(exact, "rename", ["a"])

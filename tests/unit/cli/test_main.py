"""Dispatch, usage errors and exit codes of `berth` itself (no daemon needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from berth.cli import main as cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_version(capsys) -> None:
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.startswith("berth version ")


@pytest.mark.parametrize(
    ("argv", "name", "rest"),
    [
        (["ps", "-a"], "ps", ["-a"]),
        (["container", "ls", "-q"], "ps", ["-q"]),
        (["container", "rm", "x"], "rm", ["x"]),
        (["image", "ls"], "images", []),
        (["image", "rm", "x"], "rmi", ["x"]),
        (["container", "exec", "-it", "c", "sh"], "exec", ["-it", "c", "sh"]),
        (["system", "df"], "system df", []),
        (["network", "ls"], "network ls", []),
        (["volume", "list"], "volume ls", []),
        (["registry", "serve"], "registry serve", []),
    ],
)
def test_management_forms_resolve(argv: list[str], name: str, rest: list[str]) -> None:
    assert cli.resolve(argv) == (name, rest)


def test_every_command_has_a_spec_and_a_function() -> None:
    import importlib

    for name, module_name in cli.COMMANDS.items():
        module = importlib.import_module(f"berth.cli.commands.{module_name}")
        assert name in module.SPECS, name
        assert callable(getattr(module, "run_" + name.replace(" ", "_").replace("-", "_"))), name
    for alias, target in cli.ALIASES.items():
        assert target in cli.COMMANDS, alias


def test_unknown_command_and_flags(capsys) -> None:
    status, _, err = run(capsys, "frobnicate")
    assert status == 1 and err.startswith("berth: unknown command: berth frobnicate")
    status, _, err = run(capsys, "container", "frobnicate")
    assert status == 1 and "unknown command: berth container frobnicate" in err
    status, _, err = run(capsys, "--bogus", "ps")
    assert status == 125 and err.startswith("unknown flag: --bogus")
    status, _, err = run(capsys, "ps", "--bogus")
    assert status == 125 and "Usage:  berth ps [OPTIONS]" in err
    status, _, err = run(capsys, "rm")
    assert status == 1 and "'berth rm' requires at least 1 argument" in err


def test_help_exits_zero(capsys) -> None:
    status, out, _ = run(capsys, "run", "--help")
    assert status == 0 and "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]" in out
    assert "--detach-keys" in out
    status, out, _ = run(capsys, "container")
    assert status == 0 and "  ls\n" in out and "  exec\n" in out
    status, out, _ = run(capsys)
    assert status == 0 and "Management Commands:" in out


def test_unreachable_daemon(capsys, tmp_path) -> None:
    status, _, err = run(capsys, "-H", f"unix://{tmp_path}/none.sock", "ps")
    assert status == 1
    assert err.startswith(f"Cannot connect to the berth daemon at unix://{tmp_path}/none.sock.")
    status, _, _ = run(capsys, "-H", f"unix://{tmp_path}/none.sock", "run", "busybox")
    assert status == 125


def test_start_up_imports_stay_light() -> None:
    """The CLI's hot path must not pull in the heavy stdlib modules (start-up cost)."""
    code = (
        "import sys; before = set(sys.modules)\n"
        "import berth.cli.main, berth.client.api, berth.cli.commands.containers\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    heavy = {
        "http.client",
        "argparse",
        "dataclasses",
        "ssl",
        "socket",
        "typing",
        "urllib.request",
        "email",
    }
    assert not loaded & heavy, loaded & heavy

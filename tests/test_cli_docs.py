"""Every command is documented, has an example, and docs/cli.md matches --help."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click
import pytest

from echoscope.cli import COMMAND_MODULES, cli, main

ROOT = Path(__file__).resolve().parents[1]


def _all_commands() -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in cli.commands.items():
        if isinstance(cmd, click.Group):
            out += [(f"{name} {s}", c) for s, c in cmd.commands.items()]
        else:
            out.append((name, cmd))
    return out


def test_every_module_registers_a_command() -> None:
    assert len(cli.commands) >= len(COMMAND_MODULES)


@pytest.mark.parametrize("name,cmd", _all_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_help_has_example(name: str, cmd: click.Command) -> None:
    assert cmd.help and "Example" in cmd.help, f"`echoscope {name} --help` needs an example"


def test_cli_reference_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    expected = gen.render()
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == expected, "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py"


def test_readme_mentions_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in cli.commands:
        assert f"echoscope {name}" in readme, f"README does not mention `echoscope {name}`"


def test_version_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "echoscope" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
    assert main(["info", "-w", "/nonexistent/dir/x.duckdb"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "does not exist" in err

"""Every command's --help teaches: a short description and at least one real example."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flowctl.cli.app import COMMAND_MODULES, app
from flowctl.cli.common import WRITE_COMMANDS


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_is_listed() -> None:
    """`flowctl --help` lists every command (help builds them all)."""
    text = help_text()
    for name in COMMAND_MODULES:
        assert f" {name} " in text, name


@pytest.mark.parametrize("name", list(COMMAND_MODULES))
def test_command_help_has_description_and_example(name: str) -> None:
    """`flowctl NAME --help` exits 0, says what NAME does, and shows `Example: flowctl NAME ...`."""
    text = help_text(name)
    description = text.split("Usage:", 1)[1].splitlines()[2].strip()
    assert len(description) > 10, text
    assert "Example:" in text
    examples = [line.split("Example:", 1)[1].strip() for line in text.splitlines() if "Example:" in line]
    assert any(example.split()[:2] == ["flowctl", name] or f" flowctl {name} " in f" {example} "
               for example in examples), examples


def test_top_level_help_has_an_example() -> None:
    """`flowctl --help` itself teaches by example (the credit-card-nba rollback), not only by a command list."""
    assert 'Example: flowctl rollback credit-card-nba --version 3 --notes "v4 mis-scored"' in help_text()


@pytest.mark.parametrize("name", [*WRITE_COMMANDS, "sync"])
def test_help_keeps_table_names_in_brackets(name: str) -> None:
    """Rich markup would eat `[git]` as a style tag; the git options' help shows it as written."""
    text = " ".join(help_text(name).split())
    assert "[git] push" in text
    if name in WRITE_COMMANDS:
        assert "[git] commit" in text

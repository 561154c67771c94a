"""Output manners: NO_COLOR and --no-color, 80-column tables, human
timestamps in tables and ISO in JSON, `python -m flowctl`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PublishVersions, Run

ESCAPE = re.compile(r"\x1b\[")
# A terminal that would get colour: rich honours FORCE_COLOR even through CliRunner's pipe.
COLOUR_TERMINAL = {"NO_COLOR": None, "TERM": "xterm-256color", "FORCE_COLOR": "1"}


@pytest.fixture
def released(run: Run, publish_versions: PublishVersions) -> str:
    publish_versions("f", 2)
    assert run("update", "f", "--set", "/nodes/rank/config/topN=9").exit_code == 0
    return "f"


COMMANDS = [("diff", "f"), ("versions", "f"), ("list",), ("history", "f"), ("show", "f"),
            ("publish", "f", "--dry-run")]


@pytest.mark.parametrize("args", COMMANDS)
def test_colour_on_a_colour_terminal(run: Run, released: str, args: tuple[str, ...]) -> None:
    """The check below can see escapes: without NO_COLOR, a colour terminal gets styled output."""
    result = run(*args, env=COLOUR_TERMINAL)
    assert result.exit_code == 0, result.output
    assert ESCAPE.search(result.stdout)


@pytest.mark.parametrize("args", COMMANDS)
def test_no_color_variable(run: Run, released: str, args: tuple[str, ...]) -> None:
    """NO_COLOR (no-color.org) turns every escape off, even on a colour terminal."""
    result = run(*args, env={**COLOUR_TERMINAL, "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert not ESCAPE.search(result.stdout)


@pytest.mark.parametrize("args", COMMANDS)
def test_no_color_option(run: Run, released: str, args: tuple[str, ...]) -> None:
    """--no-color does the same, before or after the command."""
    for placed in (("--no-color", *args), (*args, "--no-color")):
        result = run(*placed, env=COLOUR_TERMINAL)
        assert result.exit_code == 0, result.output
        assert not ESCAPE.search(result.stdout), placed


def test_empty_no_color_does_not_count(run: Run, released: str) -> None:
    """no-color.org: NO_COLOR set to the empty string does not disable colour."""
    result = run("diff", "f", env={**COLOUR_TERMINAL, "NO_COLOR": ""})
    assert ESCAPE.search(result.stdout)


@pytest.mark.parametrize("args", [("versions", "f"), ("list",), ("history", "f")])
def test_tables_fit_80_columns(run: Run, publish_versions: PublishVersions, args: tuple[str, ...]) -> None:
    """Long notes and names wrap inside 80 columns; timestamps stay whole on one line."""
    publish_versions("f", 1)
    long = "a release note long enough that it cannot possibly fit on one line of an eighty column terminal"
    assert run("update", "f", "--name", long, "--set", "/nodes/rank/config/topN=7").exit_code == 0
    assert run("publish", "f", "-m", long).exit_code == 0
    result = run(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "2026-03-15 14:30" in result.stdout  # human form (the versions table says UTC below it)
    assert "T14:30:00.000Z" not in result.stdout


def test_json_keeps_iso_timestamps(run: Run, released: str) -> None:
    """JSON output keeps the stored ISO-8601 timestamps (only tables switch to the human form)."""
    assert run.json("versions", "f")["versions"][0]["publishedAt"] == "2026-03-15T14:30:00.000Z"
    assert run.json("history", "f")[0]["at"] == "2026-03-15T14:30:00.000Z"


def test_python_dash_m(store: Path) -> None:
    """`python -m flowctl` is the same CLI as the console script."""
    result = subprocess.run([sys.executable, "-m", "flowctl", "--store", str(store), "list", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"total": 0' in result.stdout
    version = subprocess.run([sys.executable, "-m", "flowctl", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.stdout.startswith("flowctl ")

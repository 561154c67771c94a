"""Output manners: NO_COLOR and --no-color, 80-column tables on a terminal and
one line per flow off one, human timestamps in tables and ISO in JSON,
`python -m flowctl`."""

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
    result = run(*args, env={"COLUMNS": "80", "TTY_COMPATIBLE": "1"})  # a terminal 80 wide (rich's variable)
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


class TestListOffATerminal:
    """Off a terminal (CliRunner's pipe, a CI log), `list` prints plain lines like
    `kubectl get`: one per flow, never wrapped, columns aligned, no escapes."""

    def test_one_line_per_flow_however_long(self, run: Run) -> None:
        long = "a flow name long enough that it could never fit on one line of an eighty column terminal"
        assert run("create", "short", "--name", "S").exit_code == 0
        assert run("create", "long", "--name", long).exit_code == 0
        result = run("list", env={"COLUMNS": "80"})
        assert result.exit_code == 0
        header, *rows = result.stdout.splitlines()
        assert header.split() == ["KEY", "NAME", "KIND", "STATUS", "ACTIVE", "LATEST", "UPDATED"]
        assert [row.split()[0] for row in rows] == ["long", "short"]
        assert long in rows[0] and not ESCAPE.search(result.stdout)
        assert len({line.index("KIND") if line is header else line.index("decision-flow")
                    for line in (header, *rows)}) == 1, "the KIND column starts at the same place on every line"
        assert rows[1].endswith("2026-03-15 14:30 UTC")

    def test_cursor_line_and_empty_pages(self, run: Run) -> None:
        assert run("list").stdout == "No flows.\n"
        for key in ("a", "b", "c"):
            assert run("create", key, "--name", key.upper()).exit_code == 0
        first = run("list", "--limit", "2").stdout.splitlines()
        assert len(first) == 4 and first[-1].startswith("2 of 3 shown; next page: --cursor ")
        cursor = first[-1].rsplit(" ", 1)[1]
        assert run.json("list", "--limit", "2")["pagination"]["nextCursor"] == cursor
        last = run("list", "--limit", "2", "--cursor", cursor).stdout.splitlines()
        assert [row.split()[0] for row in last[1:]] == ["c"]
        assert run("list", "--status", "archived").stdout == "No flows.\n"

    def test_control_characters_cannot_reach_the_terminal(self, run: Run, store: Path) -> None:
        """A hand-edited name with an escape sequence or a tab stays one safe line."""
        import json

        assert run("create", "f", "--name", "F").exit_code == 0
        head_path = store / "flows" / "default" / "f" / "flow.json"
        head = json.loads(head_path.read_text(encoding="utf-8"))
        head["name"] = "evil\x1b[2Jname\tand\u200btab"
        head_path.write_text(json.dumps(head, indent=2), encoding="utf-8")
        rows = run("list").stdout.splitlines()
        assert len(rows) == 2 and "\x1b" not in rows[1] and "\t" not in rows[1]
        assert "evil\ufffd[2Jname and\ufffdtab" in rows[1]

    def test_wide_characters_keep_columns_aligned(self, run: Run) -> None:
        """East Asian wide characters take two columns, as a terminal shows them."""
        assert run("create", "a", "--name", "流程").exit_code == 0
        assert run("create", "b", "--name", "flow").exit_code == 0
        header, *rows = run("list").stdout.splitlines()
        kind_at = header.index("KIND")
        by_key = {row.split()[0]: row for row in rows}
        assert by_key["b"].index("decision-flow") == kind_at
        assert by_key["a"].index("decision-flow") == kind_at - 2  # two wide characters: two columns each

    def test_rich_table_on_a_terminal(self, run: Run) -> None:
        """On a terminal (rich's TTY_COMPATIBLE=1 says so through the pipe) a long
        name wraps to fit, as the rich table does."""
        long = "a flow name long enough that it could never fit on one line of an eighty column terminal"
        assert run("create", "long", "--name", long).exit_code == 0
        result = run("list", env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
        assert result.exit_code == 0 and long not in result.stdout
        assert max(len(line) for line in result.stdout.splitlines()) <= 80

"""What error messages say: one line whatever the user typed, the user's own
words for what was wrong (FROM/TO, not --version), advice that fits the
mistake, and "No change" when an update writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import Result

from conftest import PREFIX, Run, assert_error, read_head, scored, write_config

# Characters that would start a new line, or hide in one: C0, DEL, C1, U+2028/U+2029.
BREAKERS = "\n\r\t\x0b\x0c\x1b\x1c\x1e\x7f\x85\x9b\u2028\u2029"


def one_line_error(result: Result, code: int = 2) -> str:
    """Assert exactly one stderr line (by str.splitlines, the strictest reading) and return it."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), result.stderr
    assert not any(char in lines[0] for char in BREAKERS), result.stderr
    return lines[0]


# -- 1. control characters are escaped -------------------------------------------


def test_newline_in_a_set_pointer_stays_on_one_line(run: Run, flow: str) -> None:
    """`--set $'/nodes/0/config/\\n=\\n'` is reported on one line, the newline shown as \\n."""
    line = one_line_error(run("update", flow, "--set", "/nodes/0/config/\n=\n"))
    assert "--set '/nodes/0/config/\\n'" in line


@pytest.mark.parametrize("char", list(BREAKERS))
def test_every_line_breaking_character_is_escaped(run: Run, flow: str, char: str) -> None:
    """A file name holding any control or separator character, echoed as given in
    "no such file", is escaped (\\n, \\x1b, \\u2028...), so the message is one line."""
    line = one_line_error(run("update", flow, "--config", f"a{char}b.json"), code=2)
    escaped = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
    assert f"a{escaped}b.json: no such file" in line


def test_problem_lines_are_escaped_too(run: Run, tmp_path: Path) -> None:
    """A config problem quoting a value with U+2028 or an escape sequence keeps one line
    per problem, each indented."""
    config = scored()
    config["nodes"][0]["type"] = "evil\u2028\x1b[2Jtype"
    result = run("create", "g", "--name", "G", "--config", write_config(tmp_path / "c.json", config))
    assert_error(result, 5, "nodes[0].type: unknown node type", "evil\\u2028", problems=True)
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[1].startswith("  "), result.stderr
    assert "\x1b" not in result.stderr


def test_json_errors_stay_one_line_and_keep_the_message(run: Run, tmp_path: Path) -> None:
    """With --json the error object is one line even for U+2028 and C1 in a problem,
    and decodes back to the exact message."""
    config = scored()
    config["nodes"][0]["type"] = "a\u2028b\x85c"
    result = run("create", "g", "--name", "G", "--config", write_config(tmp_path / "c.json", config), "--json")
    assert result.exit_code == 5
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert '"a\u2028b\x85c"' in json.loads(result.stderr)["error"]["errors"][0]["message"]


# -- 4. numbers and other parser internals never leak ----------------------------


def test_huge_version_number_is_not_a_version(run: Run, flow: str) -> None:
    """--version with 5,000 digits exits 2 (not 70), without Python's int limit in the message."""
    result = run("show", flow, "--version", "9" * 5000)
    line = one_line_error(result)
    assert "--version '9999" in line and "is not a version" in line
    assert "set_int_max_str_digits" not in line and "9" * 100 not in line


def test_json_parse_errors_are_plain_words(run: Run, flow: str, tmp_path: Path) -> None:
    """json's own wording ('Expecting value', 'char 31') does not reach the user: the
    reason and position are said in plain words."""
    path = tmp_path / "bad.json"
    path.write_text('{\n  "version": 2,\n  "nodes": [1,,]\n}')
    line = one_line_error(run("update", flow, "--config", str(path)))
    assert "bad.json: not valid JSON: expected a value (at line 3, column 15)" in line
    assert "char" not in line


# -- 7. advice that fits the mistake ---------------------------------------------


@pytest.mark.parametrize(("value", "reason"), [
    ("[1,", "it ends too early: expected a value"),
    ("{\"a\" 1}", "expected ':' after a key (at column 6)"),
    ('"unterminated', "a string that starts here is not closed (at column 1)"),
    ("1 2", "more text after the JSON value (at column 3)"),
])
def test_set_advice_for_broken_json_says_what_is_wrong(run: Run, flow: str, value: str, reason: str) -> None:
    """An array, object, quoted string or number that is not valid JSON gets the parser's
    reason, not advice to quote it (`"[1,"` would be wrong)."""
    line = one_line_error(run("update", flow, "--set", f"/nodes/rank/config/topN={value}"))
    assert f"--set /nodes/rank/config/topN: not valid JSON: {reason}" in line
    assert "quote" not in line


def test_set_advice_for_a_bare_word_is_to_quote_it(run: Run, flow: str) -> None:
    """A bare word is most likely a string: the advice shows it quoted, ready to paste."""
    line = one_line_error(run("update", flow, "--set", "/nodes/score/config/method=score card"))
    assert "'score card' is a bare word; a string needs double quotes" in line
    assert "--set '/nodes/score/config/method=\"score card\"'" in line


def test_set_advice_for_python_spellings(run: Run, flow: str) -> None:
    """True, False and None are how Python spells them: the advice is JSON's spelling."""
    line = one_line_error(run("update", flow, "--set", "/nodes/score/config/on=True"))
    assert "JSON spells it true: --set /nodes/score/config/on=true" in line


def test_set_without_a_value_says_so(run: Run, flow: str) -> None:
    """`--set /x=` names the missing value instead of a parser position."""
    line = one_line_error(run("update", flow, "--set", "/nodes/score/config/method="))
    assert "no value after '='" in line and "'/nodes/score/config/method=\"\"'" in line


# -- 8. diff names FROM and TO ---------------------------------------------------


@pytest.mark.parametrize(("args", "label"), [(["foo"], "FROM 'foo'"), (["1", "bar"], "TO 'bar'")])
def test_diff_names_the_positional_it_could_not_read(run: Run, flow: str, args: list[str], label: str) -> None:
    """`diff F foo` is about FROM (or TO), not a --version that was never given."""
    line = one_line_error(run("diff", flow, *args))
    assert f"{label} is not a version: use one of N, vN, draft, active, latest, @FILE or -" in line
    assert "--version" not in line


# -- 9. an update that changes nothing says so -----------------------------------
# Needs the core to tell (Flows.update sets `last_update_changed`): these fail until that is wired.


def test_update_that_changes_nothing_says_no_change(run: Run, flow: str, store: Path) -> None:
    """Setting what is already there prints "No change", not "Updated", and writes nothing."""
    before = read_head(store, flow)
    result = run("update", flow, "--name", before["name"], "--set", "/nodes/rank/config/topN=5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"No change: flow {flow} is already as given (rowVersion {before['rowVersion']})\n"
    assert read_head(store, flow) == before


def test_update_with_changes_still_says_updated(run: Run, flow: str) -> None:
    """A real change still reports "Updated" with the new rowVersion."""
    result = run("update", flow, "--set", "/nodes/rank/config/topN=6")
    assert result.stdout == f"Updated flow {flow}: rowVersion 2\n"


def test_no_change_keeps_json_and_quiet_output(run: Run, flow: str, store: Path) -> None:
    """With nothing to change, --json still prints the head and -q the rowVersion."""
    head = read_head(store, flow)
    assert run.json("update", flow, "--name", head["name"]) == head
    result = run("update", flow, "--name", head["name"], "-q")
    assert result.stdout == f"{head['rowVersion']}\n"

"""docs/contract.md is the source of truth: its exit-code table (§6.1) must cover
every exit code the README documents and every one flowctl.errors can produce,
and say the same thing about each.

How the tables are found: the first Markdown table directly under a heading whose
text contains "exit codes" (README `## Exit codes`, contract `### 6.1 Exit
codes`). The exit-code column is the first one whose cells are all integers;
the meaning column is the one headed "meaning"; the contract also has a
`code` column holding the JSON error `code`.

How "the meanings agree" is judged, robustly against rewording of the
details: a meaning's *lead* is its text up to the first `:`, `;` or `(`
("bad input or usage", "not found", "busy", "unexpected internal error");
its *key words* are the lead's lower-case words, ignoring backticks,
punctuation and the words a, an, the, of, for, by, to, s. The README's first
three key words (or all, if fewer) must be the first key words of the
contract's lead. So the README may say more or less after the lead, but not
name a different thing ("conflict" vs "busy").

errors.py is checked through its `code` attributes, not its docstrings
(prose written for programmers): every FlowctlError subclass's
(exit_code, code) must be a row of the contract's table, and every row of
the contract's table must be 0, 1 or an exit code some error class has.
README ⊆ contract is required, not equality, so a code newly added to the
contract (74, say) does not fail this test while the README catches up.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from flowctl import errors

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONTRACT = ROOT / "docs" / "contract.md"

_STOP_WORDS = {"a", "an", "the", "of", "for", "by", "to", "s"}
_NON_ERROR_EXITS = {0, 1}  # success, and `diff --exit-code` finding differences


def _cells(line: str) -> list[str]:
    """The cells of one Markdown table row (escaped pipes `\\|` kept inside cells)."""
    body = line.strip().strip("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", body)]


def exit_code_table(path: Path) -> dict[int, dict[str, str]]:
    """{exit code: {"meaning": ..., "code": ...}} from the table under the
    heading that names exit codes."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("#") and "exit codes" in line.lower()]
    assert headings, f"{path.name}: no heading naming 'exit codes'"
    rows: list[list[str]] = []
    for start in headings:  # the first such heading with a table of its own (`## 6.` has none, `### 6.1` has)
        for line in lines[start + 1:]:
            if line.startswith("#"):
                break
            if line.lstrip().startswith("|"):
                rows.append(_cells(line))
            elif rows:
                break  # the first table ended
        if rows:
            break
    assert len(rows) > 2, f"{path.name}: no table under the exit-codes heading"
    header, body = [cell.lower().strip("`") for cell in rows[0]], rows[2:]  # rows[1] is |---|
    exit_col = next((i for i in range(len(header))
                     if all(re.fullmatch(r"\d+", row[i]) for row in body if len(row) > i)), None)
    assert exit_col is not None, f"{path.name}: no column of exit codes in {header}"
    assert "meaning" in header, f"{path.name}: no 'meaning' column in {header}"
    meaning_col = header.index("meaning")
    code_col = next((i for i, name in enumerate(header) if name == "code" and i != exit_col), None)
    table = {}
    for row in body:
        exit_code = int(row[exit_col])
        assert exit_code not in table, f"{path.name}: exit {exit_code} listed twice"
        table[exit_code] = {"meaning": row[meaning_col],
                            "code": row[code_col].strip("`") if code_col is not None else ""}
    return table


def key_words(meaning: str) -> list[str]:
    """The significant words of a meaning's lead (see the module docstring)."""
    lead = re.split(r"[:;(]", meaning, maxsplit=1)[0]
    return [word for word in re.findall(r"[a-z0-9]+", lead.lower()) if word not in _STOP_WORDS]


def error_classes() -> dict[str, tuple[int, str]]:
    """{class name: (exit_code, code)} for FlowctlError and all its subclasses."""
    return {name: (cls.exit_code, cls.code) for name, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.FlowctlError)}


@pytest.fixture(scope="module")
def contract() -> dict[int, dict[str, str]]:
    return exit_code_table(CONTRACT)


def test_every_readme_exit_code_is_in_the_contract_with_the_same_meaning(
        contract: dict[int, dict[str, str]]) -> None:
    """README ⊆ contract, and each README meaning's lead agrees with the contract's."""
    readme = exit_code_table(README)
    missing = sorted(set(readme) - set(contract))
    assert not missing, f"README documents exit codes the contract lacks: {missing}"
    for exit_code, row in readme.items():
        ours, theirs = key_words(contract[exit_code]["meaning"]), key_words(row["meaning"])
        expected = theirs[:3]
        assert expected, f"README: exit {exit_code} has no meaning"
        assert ours[:len(expected)] == expected, (
            f"exit {exit_code}: README says {row['meaning']!r}, the contract {contract[exit_code]['meaning']!r}")


def test_every_error_class_is_a_row_of_the_contract(contract: dict[int, dict[str, str]]) -> None:
    """Each FlowctlError subclass's exit_code is in the table, with its `code`
    in the code column, and it has a docstring saying what it means."""
    for name, (exit_code, code) in error_classes().items():
        assert exit_code in contract, f"errors.{name}: exit {exit_code} is not in docs/contract.md §6.1"
        assert contract[exit_code]["code"] == code, (
            f"errors.{name}: code {code!r}, but docs/contract.md §6.1 says {contract[exit_code]['code']!r}")
        assert key_words(contract[exit_code]["meaning"]), f"exit {exit_code} has no meaning in the contract"
        assert (getattr(errors, name).__doc__ or "").strip(), f"errors.{name} has no docstring"


def test_the_contract_lists_no_exit_code_nothing_produces(contract: dict[int, dict[str, str]]) -> None:
    """Every row of the contract's table is success, `diff --exit-code`, or an error class's code."""
    produced = {exit_code for exit_code, _ in error_classes().values()} | _NON_ERROR_EXITS
    assert sorted(set(contract) - produced) == [], "docs/contract.md §6.1 lists exit codes no error class has"
    for exit_code in _NON_ERROR_EXITS:
        assert contract[exit_code]["code"] in ("", "-", "–"), f"exit {exit_code} is not an error: no code"


def test_key_words_rule() -> None:
    """The agreement rule itself: the lead only, case, backticks and filler words ignored."""
    assert key_words("busy: the flow's lock was not free") == ["busy"]
    assert key_words("`diff --exit-code` found differences") == ["diff", "exit", "code", "found", "differences"]
    assert key_words("forbidden by the store's access policy") == ["forbidden", "store", "access", "policy"]
    assert key_words("unexpected internal error (rerun with FLOWCTL_DEBUG=1)") == ["unexpected", "internal", "error"]
    assert key_words("I/O error: disk full") == ["i", "o", "error"]

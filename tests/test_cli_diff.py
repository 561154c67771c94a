"""`flowctl diff` through the real CLI: selectors, defaults, formats, --exit-code.

The diff algorithm itself is proven in test_diff.py; these tests prove the
command: which two configs it compares, how it labels them, and what it
prints and exits with (docs/contract.md §5 `diff`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from conftest import Run, assert_error, publish_series, scored, write_config


@pytest.fixture
def history(run: Run, tmp_path: Path) -> str:
    """Flow `f`: v1..v3 published (version i has topN = i), v3 active, draft = v3."""
    publish_series(run, tmp_path, "f", 3)
    return "f"


def diff_json(run: Run, *args: str, input: str | None = None) -> dict[str, Any]:
    result = run("diff", *args, "--format", "json", input=input)
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def top_n_change(document: dict[str, Any]) -> tuple[Any, Any]:
    """(old, new) of the one rank topN change the fixture's versions differ by."""
    [change] = document["changes"]
    assert (change["op"], change["path"]) == ("replace", "/nodes/rank/config/topN")
    return change["old"], change["new"]


@pytest.mark.parametrize(
    ("selectors", "labels", "values"),
    [
        (["1", "2"], ("v1", "v2"), (1, 2)),
        (["v1", "v3"], ("v1", "v3"), (1, 3)),
        (["V2", "latest"], ("v2", "v3"), (2, 3)),
        (["active", "1"], ("v3", "v1"), (3, 1)),
        (["draft", "v1"], ("draft", "v1"), (3, 1)),
    ],
)
def test_version_selectors(run: Run, history: str, selectors: list[str], labels: tuple[str, str],
                           values: tuple[int, int]) -> None:
    """N, vN, latest, active and draft each pick the config they name, labelled as docs/contract.md §5 says."""
    document = diff_json(run, history, *selectors)
    assert (document["from"], document["to"]) == labels
    assert top_n_change(document) == values


def test_default_is_active_to_draft(run: Run, history: str, tmp_path: Path) -> None:
    """Without FROM/TO: what the next publish would change (active → draft)."""
    assert run("update", history, "--set", "/nodes/rank/config/topN=9").exit_code == 0
    document = diff_json(run, history)
    assert (document["from"], document["to"]) == ("v3", "draft")
    assert top_n_change(document) == (3, 9)


def test_only_from_given_compares_with_draft(run: Run, history: str) -> None:
    """One selector is FROM; TO stays the draft."""
    document = diff_json(run, history, "1")
    assert (document["from"], document["to"]) == ("v1", "draft")


def test_before_any_publish_compares_empty_with_draft(run: Run) -> None:
    """Before the first publish, the default FROM is an empty config: every node is added."""
    assert run("create", "f", "--name", "F").exit_code == 0
    document = diff_json(run, "f")
    assert (document["from"], document["to"]) == ("empty", "draft")
    added = {c["path"]: c["new"] for c in document["changes"] if c["op"] == "add"}
    assert len(added) == len(document["changes"])
    assert [node["id"] for node in added["/nodes"]] == ["source", "qualify", "score", "rank", "output"]
    text = run("diff", "f").stdout
    assert "+ node score (score)" in text


def test_file_selectors_json_and_toml(run: Run, history: str, tmp_path: Path) -> None:
    """@FILE previews a config before `update`: JSON by default, TOML by extension; labelled @FILE."""
    as_json = write_config(tmp_path / "next.json", scored(top_n=7))
    as_toml = tmp_path / "next.toml"
    as_toml.write_text(tomli_w.dumps(scored(top_n=8)), encoding="utf-8")
    document = diff_json(run, history, "active", f"@{as_json}")
    assert document["to"] == f"@{as_json}"
    assert top_n_change(document) == (3, 7)
    assert top_n_change(diff_json(run, history, "active", f"@{as_toml}")) == (3, 8)


def test_stdin_selector(run: Run, history: str) -> None:
    """`-` reads one side as JSON from stdin."""
    document = diff_json(run, history, "-", "draft", input=json.dumps(scored(top_n=1)))
    assert top_n_change(document) == (1, 3)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["bogus"], 2, "bogus"),
        (["0"], 2, "'0'"),
        (["-", "-"], 2, "stdin"),
        (["9"], 3, "no version 9"),
        (["@missing.json"], 2, "missing.json"),
    ],
)
def test_bad_selectors(run: Run, history: str, args: list[str], code: int, fragment: str) -> None:
    """Anything but N, vN, draft, active, latest, @FILE or - exits 2; a missing version exits 3."""
    assert_error(run("diff", history, *args), code, fragment)


def test_missing_flow_is_not_found(run: Run) -> None:
    """diff of a flow that does not exist is exit 3, naming it."""
    assert_error(run("diff", "ghost"), 3, "ghost")


def test_file_that_is_not_an_object_is_bad_input(run: Run, history: str, tmp_path: Path) -> None:
    """@FILE holding a JSON list, not an object, is bad input (exit 2), not compared."""
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    assert_error(run("diff", history, f"@{path}"), 2, "JSON object")


def test_text_format_groups_by_node_and_ends_with_summary(run: Run, history: str) -> None:
    """The default text output names the node and ends with the summary line, plain when piped."""
    result = run("diff", history, "1", "3")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines == ["~ node rank: config.topN 1 → 3", "1 change: 1 node changed"]
    assert "\x1b[" not in result.stdout


def test_identical_configs_say_no_changes(run: Run, history: str) -> None:
    """Comparing a config with itself: no changes, in every format, and exit 0 even with --exit-code."""
    text = run("diff", history, "3", "draft", "--exit-code")
    assert (text.exit_code, text.stdout.strip()) == (0, "no changes")
    assert diff_json(run, history, "3", "draft")["changes"] == []
    unified = run("diff", history, "3", "draft", "--format", "unified")
    assert (unified.exit_code, unified.stdout) == (0, "")


def test_exit_code_is_one_when_there_are_differences(run: Run, history: str) -> None:
    """--exit-code follows git: 1 when the configs differ, and the diff is still printed."""
    result = run("diff", history, "1", "2", "--exit-code")
    assert result.exit_code == 1
    assert "1 change" in result.stdout
    assert run("diff", history, "1", "2").exit_code == 0


def test_unified_format_is_labelled_key_at_side(run: Run, history: str) -> None:
    """--format unified is a git-style diff of canonical pretty JSON, labelled KEY@vN / KEY@draft."""
    assert run("update", history, "--set", "/nodes/rank/config/topN=4").exit_code == 0
    result = run("diff", history, "2", "draft", "--format", "unified")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- f@v2", "+++ f@draft"]
    assert '-        "topN": 2' in lines and '+        "topN": 4' in lines


def test_json_flag_is_the_json_format(run: Run, history: str) -> None:
    """--json prints the same single document as --format json."""
    result = run("diff", history, "1", "2", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == diff_json(run, history, "1", "2")


def test_v1_configs_diff_through_the_cli(run: Run, tmp_path: Path) -> None:
    """Fixed-stage (v1) configs are compared key by key under stages."""
    v1 = {"stages": {"scoring": {"method": "propensity"}, "ranking": {"topN": 5}}}
    assert run("create", "legacy", "--name", "L", "--config", write_config(tmp_path / "v1.json", v1)).exit_code == 0
    assert run("publish", "legacy").exit_code == 0
    assert run("update", "legacy", "--set", '/stages/scoring/method="scorecard"').exit_code == 0
    [change] = diff_json(run, "legacy")["changes"]
    assert change == {"op": "replace", "path": "/stages/scoring/method", "old": "propensity", "new": "scorecard"}


def test_publish_dry_run_shows_the_diff_and_writes_nothing(run: Run, history: str, store: Path) -> None:
    """publish --dry-run names the version it would write and the diff from the active config."""
    assert run("update", history, "--set", "/nodes/rank/config/topN=6").exit_code == 0
    before = sorted(p.name for p in (store / "flows/default/f/versions").iterdir())
    result = run("publish", history, "--dry-run", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["dryRun"], document["version"], document["from"], document["to"]) == (True, 4, "v3", "v4")
    assert top_n_change(document) == (3, 6)
    assert sorted(p.name for p in (store / "flows/default/f/versions").iterdir()) == before

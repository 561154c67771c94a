"""`flowctl edit FLOW`, like `kubectl edit`: the draft opens in $VISUAL/$EDITOR,
is validated on save, and an invalid edit is kept so nothing typed is lost."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

from conftest import Run, run_process, scored, tree_bytes

# A fake editor: applies the Python expression in $EDIT_DO to the file's text
# (`text` in, new text out), and logs each call so a test can see it ran.
EDITOR = """
import os, sys, json
path = sys.argv[-1]
text = open(path, encoding="utf-8").read()
with open(os.environ["EDIT_LOG"], "a") as log:
    log.write(path + "\\n")
new = eval(os.environ["EDIT_DO"], {"json": json, "text": text})
open(path, "w", encoding="utf-8").write(new)
sys.exit(int(os.environ.get("EDIT_EXIT", "0")))
"""


class Editor(Protocol):
    """The `editor` fixture: `editor(expression, exit_code=0)` sets what the fake editor does; returns its log."""

    def __call__(self, expression: str, exit_code: int = 0) -> Path: ...


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    """Point $EDITOR at the fake editor; return a function that sets what it does."""
    script = tmp_path / "fake_editor.py"
    script.write_text(EDITOR)
    log = tmp_path / "editor.log"
    monkeypatch.setenv("EDITOR", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    monkeypatch.setenv("EDIT_LOG", str(log))

    def does(expression: str, exit_code: int = 0) -> Path:
        monkeypatch.setenv("EDIT_DO", expression)
        monkeypatch.setenv("EDIT_EXIT", str(exit_code))
        return log

    return does


def set_top_n(value: object) -> str:
    """An editor action: set the rank node's topN to `value`."""
    return (f"(lambda c: (c['nodes'][2]['config'].update(topN={value!r}), json.dumps(c, indent=2))[1])"
            "(json.loads(text))")


def advised(stderr: str) -> list[list[str]]:
    """The commands the error message tells the user to run, as argv lists."""
    commands = [shlex.split(command) for command in re.findall(r"`(flowctl [^`]*)`", stderr)]
    assert commands, stderr
    return commands


def run_advised(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run an advised `flowctl ...` command exactly as printed, as a real process."""
    assert argv[0] == "flowctl", argv
    return run_process(*argv[1:], cwd=cwd)


def kept_file(stderr: str) -> Path:
    match = re.search(r"kept in (\S+\.json)", stderr)
    assert match, stderr
    return Path(match.group(1))


def test_valid_edit_is_saved(run: Run, flow: str, editor: Editor) -> None:
    """A valid edit updates the draft, bumps rowVersion once and removes the temp file."""
    log = editor(set_top_n(3))
    result = run("edit", flow)
    assert result.exit_code == 0, result.output
    assert "Updated flow f: rowVersion 2" in result.stdout
    assert run.json("show", flow, "--version", "draft")["nodes"][2]["config"]["topN"] == 3
    edited = Path(log.read_text().strip())
    assert edited.name.startswith("flowctl-edit-f-") and not edited.exists()
    assert run.json("history", flow, "--limit", "1")[0]["changes"] == ["draftConfig"]


def test_editor_sees_the_draft_as_pretty_json(run: Run, flow: str, editor: Editor, tmp_path: Path) -> None:
    """The file holds the draft in the store's own format: 2-space JSON, key order kept."""
    copy = tmp_path / "seen.json"
    editor(f"(open({str(copy)!r}, 'w').write(text), text)[1]")
    assert run("edit", flow).exit_code == 0
    assert copy.read_text() == json.dumps(scored(), indent=2) + "\n"


def test_unchanged_file_changes_nothing(run: Run, flow: str, editor: Editor, store: Path) -> None:
    """Saving without a change says so, exits 0 and writes nothing."""
    before = tree_bytes(store)
    editor("text")
    result = run("edit", flow)
    assert result.exit_code == 0
    assert "edit cancelled, no changes made" in result.stderr
    assert result.stdout == ""
    assert tree_bytes(store) == before


def test_emptied_file_cancels(run: Run, flow: str, editor: Editor) -> None:
    """Emptying the file cancels the edit, as kubectl does."""
    editor("''")
    result = run("edit", flow)
    assert result.exit_code == 0
    assert "edit cancelled" in result.stderr
    assert run.json("show", flow)["rowVersion"] == 1


def test_reformatted_but_equal_config_writes_nothing(run: Run, flow: str, editor: Editor) -> None:
    """Only whitespace changed: the draft is the same, so no rowVersion bump."""
    editor("json.dumps(json.loads(text))")
    result = run("edit", flow)
    assert result.exit_code == 0
    assert "nothing written" in result.stderr
    assert run.json("show", flow)["rowVersion"] == 1


def test_invalid_edit_keeps_the_text(run: Run, flow: str, editor: Editor) -> None:
    """A structurally invalid edit exits 5 with the problems, keeps the edited
    file (path in the message) and leaves the draft alone."""
    editor(set_top_n(-4))
    result = run("edit", flow)
    assert result.exit_code == 5
    assert "nodes[2].config.topN: must be a positive integer (-4)" in result.stderr
    kept = kept_file(result.stderr)
    assert json.loads(kept.read_text())["nodes"][2]["config"]["topN"] == -4
    [retry] = advised(result.stderr)
    assert retry[retry.index("update"):] == ["update", "f", "--config", str(kept), "--row-version", "1"]
    assert run.json("show", flow, "--version", "draft") == scored()
    kept.unlink()


def test_kept_edit_can_be_applied_after_fixing(run: Run, flow: str, editor: Editor, tmp_path: Path) -> None:
    """The suggested `update --config KEPT --row-version N`, run as printed, works once the file is fixed."""
    editor(set_top_n(0))
    stderr = run("edit", flow).stderr
    kept = kept_file(stderr)
    kept.write_text(kept.read_text().replace('"topN": 0', '"topN": 2'))
    [retry] = advised(stderr)
    result = run_advised(retry, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert run.json("show", flow, "--version", "draft")["nodes"][2]["config"]["topN"] == 2
    kept.unlink()


def test_malformed_json_keeps_the_text(run: Run, flow: str, editor: Editor) -> None:
    """Text that is not JSON exits 2 and is kept as typed."""
    editor("text + '\\n  oops, a stray line'")
    result = run("edit", flow)
    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    kept = kept_file(result.stderr)
    assert kept.read_text().endswith("oops, a stray line")
    kept.unlink()


def test_concurrent_change_is_a_conflict(run: Run, flow: str, editor: Editor, store: Path) -> None:
    """A change made while the editor was open is not overwritten: exit 4, edit kept."""
    other = (f"(__import__('subprocess').run([{sys.executable!r}, '-m', 'flowctl', '--store', {str(store)!r}, "
             "'update', 'f', '--name', 'Renamed'], check=True), text.replace('\"topN\": 5', '\"topN\": 4'))[1]")
    editor(other)
    result = run("edit", flow)
    assert result.exit_code == 4, result.output
    assert run.json("show", flow)["name"] == "Renamed"
    assert run.json("show", flow, "--version", "draft")["nodes"][2]["config"]["topN"] == 5
    kept_file(result.stderr).unlink()


def test_conflict_advice_works_and_still_guards(run: Run, flow: str, editor: Editor, store: Path,
                                                tmp_path: Path) -> None:
    """After a conflict the printed commands work as printed: the diff shows what applying the
    kept edit would change, and the update carries the flow's current rowVersion (not the
    stale one, which always failed), so it applies the edit once and guards again after."""
    other = (f"(__import__('subprocess').run([{sys.executable!r}, '-m', 'flowctl', '--store', {str(store)!r}, "
             "'update', 'f', '--name', 'Renamed'], check=True), text.replace('\"topN\": 5', '\"topN\": 4'))[1]")
    editor(other)
    result = run("edit", flow)
    assert result.exit_code == 4, result.output
    assert "someone changed flow f meanwhile (rowVersion 1 → 2)" in result.stderr
    review, apply = advised(result.stderr)
    assert review[review.index("diff"):] == ["diff", "f", "draft", f"@{kept_file(result.stderr)}"]
    shown = run_advised(review, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "~ node rank: config.topN 5 → 4" in shown.stdout
    applied = run_advised(apply, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    head = run.json("show", flow)
    assert (head["name"], head["rowVersion"], head["draftConfig"]["nodes"][2]["config"]["topN"]) == ("Renamed", 3, 4)
    again = run_advised(apply, cwd=tmp_path)  # its rowVersion is stale now: it still guards
    assert again.returncode == 4, again.stderr
    kept_file(result.stderr).unlink()


def test_visual_wins_over_editor(run: Run, flow: str, editor: Editor, monkeypatch: pytest.MonkeyPatch) -> None:
    """$VISUAL is preferred to $EDITOR, as git does."""
    import os

    editor(set_top_n(7))
    monkeypatch.setenv("VISUAL", os.environ["EDITOR"])
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    assert run("edit", flow).exit_code == 0
    assert run.json("show", flow, "--version", "draft")["nodes"][2]["config"]["topN"] == 7


def test_failing_editor_changes_nothing(run: Run, flow: str, editor: Editor) -> None:
    """An editor that exits non-zero aborts (exit 2), and what it saved is kept."""
    editor(set_top_n(9), exit_code=3)
    result = run("edit", flow)
    assert result.exit_code == 2
    assert "exited with status 3" in result.stderr
    assert run.json("show", flow)["rowVersion"] == 1
    kept_file(result.stderr).unlink()


def test_missing_editor_says_what_to_set(run: Run, flow: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An $EDITOR that does not exist is exit 2 naming the variable to set, not a crash."""
    monkeypatch.setenv("EDITOR", "/nonexistent/editor --wait")
    result = run("edit", flow)
    assert result.exit_code == 2
    assert "$EDITOR" in result.stderr


def test_quiet_and_json(run: Run, flow: str, editor: Editor) -> None:
    """-q prints the new rowVersion; --json the head."""
    editor(set_top_n(3))
    result = run("edit", flow, "-q")
    assert (result.exit_code, result.stdout) == (0, "2\n")
    editor(set_top_n(4))
    assert run.json("edit", flow)["rowVersion"] == 3

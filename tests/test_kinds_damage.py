"""Hand edits and hostile input on the kinds (docs/contract.md §3.5, §4.7, §4.8, §7.4):
each is refused with its exit code and one line, and a refused write changes nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import Run, assert_error, flow_dir, read_head, tree_bytes

POLICY = "Module Loan.\n\nRule ok given a:\n  Return a.x > {}.\n"


@pytest.fixture
def policy(run: Run, tmp_path: Path) -> str:
    """Policy p: v1 and v2 published, then rolled back to v1 (v1 active, latest v2)."""
    for threshold in (1, 2):
        source = tmp_path / f"p{threshold}.aster"
        source.write_text(POLICY.format(threshold), encoding="utf-8")
        args = ["create", "p", "--kind", "policy", "--name", "P"] if threshold == 1 else ["update", "p"]
        assert run(*args, "--source", str(source)).exit_code == 0
        assert run("publish", "p").exit_code == 0
    assert run("rollback", "p", "--version", "1").exit_code == 0
    return "p"


def edit_json(path: Path, **changes: object) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record.update(changes)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def test_a_write_refuses_a_policy_rollback_line_that_names_no_version(run: Run, store: Path, policy: str) -> None:
    """The last audit line swaps to v9, which does not exist: every write is exit 8, nothing written."""
    audit = flow_dir(store, policy) / "audit.jsonl"
    audit.write_text(audit.read_text(encoding="utf-8").replace('"restoredVersion":1', '"restoredVersion":9'),
                     encoding="utf-8")
    before = tree_bytes(store)
    for args in (["update", policy, "--name", "Q"], ["publish", policy], ["rollback", policy, "--version", "2"]):
        assert_error(run(*args), 8, "audit.jsonl", "rollback from v2 to v9")
    assert tree_bytes(store) == before


def test_a_snapshot_of_another_kind_is_damage_to_every_reader(run: Run, store: Path, policy: str) -> None:
    """A policy's v2 edited to say decision-flow: show and rollback refuse it (exit 8); verify names both files."""
    edit_json(flow_dir(store, policy) / "versions" / "000002.json", kind="decision-flow")
    before = tree_bytes(store)
    assert_error(run("show", policy, "--version", "2"), 8, "000002.json", "decision-flow version")
    assert_error(run("rollback", policy, "--version", "2"), 8, "000002.json")
    assert tree_bytes(store) == before
    result = run("verify")
    assert result.exit_code == 8 and "a person must decide" in result.stdout and "flow.json" in result.stdout


def test_a_workflow_reason_needs_status_paused(run: Run, store: Path) -> None:
    """A head hand-edited to active with a pausedReason is exit 8 for readers."""
    run.json("create", "w", "--kind", "workflow", "--name", "W")
    edit_json(flow_dir(store, "w") / "flow.json", pausedReason="manual")
    assert_error(run("show", "w"), 8, "pausedReason", "not paused")


@pytest.mark.parametrize(("added", "fragment"), [(b"\xff", "not UTF-8"), (b"\x00", "NUL")])
def test_edit_refuses_a_saved_text_that_is_no_text(run: Run, store: Path, policy: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, added: bytes,
                                                   fragment: str) -> None:
    """The editor saves a byte that is not text: exit 2, the edit kept in the file named, nothing written."""
    editor = tmp_path / "editor.py"
    editor.write_text(f"import sys\nopen(sys.argv[-1], 'ab').write({added!r})\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    before = tree_bytes(store)
    result = run("edit", policy)
    assert_error(result, 2, fragment, "your edit is kept in")
    kept = Path(result.stderr.rsplit("kept in ", 1)[1].strip())
    assert kept.read_bytes().endswith(added)
    kept.unlink()
    assert tree_bytes(store) == before


def test_edit_keeps_a_policys_line_endings(run: Run, store: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A source written with CRLF and edited in one word keeps its CRLF (no newline translation)."""
    source = tmp_path / "crlf.aster"
    source.write_bytes(POLICY.format(1).replace("\n", "\r\n").encode())
    assert run("create", "c", "--kind", "policy", "--name", "C", "--source", str(source)).exit_code == 0
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\np = sys.argv[-1]\ndata = open(p, 'rb').read()\n"
                      "open(p, 'wb').write(data.replace(b'> 1', b'> 5'))\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert run("edit", "c").exit_code == 0
    assert read_head(store, "c")["draftConfig"]["source"] == POLICY.format(5).replace("\n", "\r\n")


def test_a_nul_in_a_policy_source_is_refused(run: Run, store: Path) -> None:
    """A source holding NUL (here through --set and a JSON escape) is exit 2 at `source`."""
    run.json("create", "p", "--kind", "policy", "--name", "P")
    assert_error(run("update", "p", "--set", '/source="Module A.\\nRule b given c:\\n\\u0000"'), 2, "source", "NUL")


def test_config_and_source_cannot_both_read_stdin(run: Run, store: Path) -> None:
    """--config - beside --source -: exit 2 before stdin is read."""
    assert_error(run("create", "p", "--kind", "policy", "--name", "P", "--config", "-", "--source", "-",
                     input='{"source": "x"}'), 2, "cannot both read stdin")


@pytest.mark.parametrize("given", ["0", "-1", "1234567890123456789012345", "two"])
def test_expected_current_version_is_a_version(run: Run, store: Path, policy: str, given: str) -> None:
    """--expected-current-version follows the rule of every version: N or vN, an integer >= 1 (else exit 2)."""
    assert_error(run("rollback", policy, "--version", "2", "--expected-current-version", given), 2,
                 "--expected-current-version")
    assert run("rollback", policy, "--version", "2", "--expected-current-version", "v1").exit_code == 0


def test_a_bundle_of_an_unknown_kind_names_the_kind(run: Run, store: Path, policy: str, tmp_path: Path) -> None:
    """An import whose flow.kind is no kind: exit 2 naming flow.kind, not the fields the kind would have."""
    bundle = json.loads(run("export", policy).stdout)
    bundle["flow"]["kind"] = "spaceship"
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert_error(run("import", str(path), "--key", "x"), 2, "flow.kind", "spaceship")


"""The three kinds through the real CLI (docs/contract.md §4, §5): each kind's
example config through create → update → publish ×3 → versions → rollback →
versions, with the JSON shapes of its public API."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    SNAPSHOT_FIELDS,
    Run,
    assert_error,
    audit_lines,
    flow_dir,
    read_head,
    tree_bytes,
    write_config,
)

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
LOAN = (EXAMPLES / "loan-approval.aster").read_text(encoding="utf-8")
ORDER: dict[str, Any] = json.loads((EXAMPLES / "order-fulfilment.json").read_text(encoding="utf-8"))
NBA: dict[str, Any] = json.loads((EXAMPLES / "credit-card-nba.json").read_text(encoding="utf-8"))


def loan_source(threshold: int) -> str:
    """The example policy with its income threshold changed."""
    return LOAN.replace("45000", str(threshold))


def snapshot_names(store: Path, key: str) -> list[str]:
    return sorted(path.name for path in (flow_dir(store, key) / "versions").iterdir())


@pytest.fixture
def loan(run: Run, tmp_path: Path) -> str:
    """Policy `loan-approval` with v1..v3 published from three sources, v3 active."""
    for number, threshold in enumerate((40000, 45000, 50000), start=1):
        source = tmp_path / f"v{number}.aster"
        source.write_text(loan_source(threshold), encoding="utf-8")
        if number == 1:
            run.json("create", "loan-approval", "--kind", "policy", "--name", "Loan approval",
                     "--source", str(source))
        else:
            run.json("update", "loan-approval", "--source", str(source))
        run.json("publish", "loan-approval", "-m", f"threshold {threshold}")
    return "loan-approval"


# -- policies ----------------------------------------------------------------------


def test_a_policy_is_created_from_its_source_text(run: Run, loan: str) -> None:
    """--source reads the Aster text into the draft's `source`; the kind is in the head and every snapshot."""
    head = run.json("show", loan)
    assert head["kind"] == "policy"
    assert head["draftConfig"] == {"source": loan_source(50000), "locale": "en-US"}
    snapshot = run.json("show", loan, "--version", "2")
    assert list(snapshot) == SNAPSHOT_FIELDS and snapshot["kind"] == "policy"
    assert snapshot["summary"] == {"moduleName": "Loan.Approval", "functionName": "isEligible"}


def test_policy_versions_mark_exactly_one_active(run: Run, loan: str) -> None:
    """versions --json: every entry carries `active`, true on the active version only."""
    entries = run.json("versions", loan)["versions"]
    assert [(entry["version"], entry["active"]) for entry in entries] == [(1, False), (2, False), (3, True)]


def test_policy_rollback_swaps_the_active_version_and_writes_no_snapshot(run: Run, store: Path, loan: str) -> None:
    """The policy API's example: targetVersion 1 from active 3 → currentVersion 1, no v4, draft = v1."""
    before = snapshot_names(store, loan)
    result = run.json("rollback", loan, "--version", "1", "--reason", "v3 mis-rejects 45k–50k incomes")
    assert (result["success"], result["previousVersion"], result["currentVersion"]) == (True, 3, 1)
    flow = result["flow"]
    assert (flow["activeVersion"], flow["latestVersion"], flow["status"]) == (1, 3, "active")
    assert flow["draftConfig"] == {"source": loan_source(40000), "locale": "en-US"}
    assert snapshot_names(store, loan) == before
    assert audit_lines(store, loan)[-1] == {
        "at": flow["updatedAt"], "actor": "tester", "action": "rollback", "rowVersion": flow["rowVersion"],
        "restoredVersion": 1, "previousVersion": 3, "notes": "v3 mis-rejects 45k–50k incomes"}
    entries = run.json("versions", loan)["versions"]
    assert [entry["version"] for entry in entries if entry["active"]] == [1]
    assert run("verify").exit_code == 0


def test_rolling_a_policy_back_to_its_active_version_is_exit_4(run: Run, store: Path, loan: str) -> None:
    """Target already active: exit 4 in the policy API's words, nothing written."""
    before = tree_bytes(store)
    assert_error(run("rollback", loan, "--version", "3"), 4,
                 "Version 3 is already the active version for policy 'loan-approval'")
    assert tree_bytes(store) == before


def test_a_publish_after_a_policy_rollback_is_latest_plus_one(run: Run, loan: str, tmp_path: Path) -> None:
    """v3 active → rollback to v1 → publish: v4, from the draft (v1's source)."""
    run.json("rollback", loan, "--version", "1")
    head = run.json("publish", loan)
    assert (head["activeVersion"], head["latestVersion"]) == (4, 4)
    assert run.json("show", loan, "--version", "4")["configSnapshot"]["source"] == loan_source(40000)
    assert run("verify").exit_code == 0


def test_policy_rollback_dry_run_writes_nothing(run: Run, store: Path, loan: str) -> None:
    """--dry-run shows the swap and its diff; the store is byte-identical."""
    before = tree_bytes(store)
    result = run("rollback", loan, "--version", "1", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would make loan-approval v1 active again" in result.stdout
    assert tree_bytes(store) == before


def test_a_policy_needs_a_module_and_a_rule_to_publish(run: Run, store: Path, loan: str, tmp_path: Path) -> None:
    """A source without a Rule is refused on update (exit 5, line and column); a stored one on publish."""
    bad = tmp_path / "bad.aster"
    bad.write_text("Module Loan.Approval.\n\nNo rules yet.\n", encoding="utf-8")
    assert_error(run("update", loan, "--source", str(bad)), 5, "source:3:14", "no rule", problems=True)
    head = read_head(store, loan)
    head["draftConfig"]["source"] = "Rule first given a:\n"
    (flow_dir(store, loan) / "flow.json").write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    assert_error(run("publish", loan), 5, "draft is not valid", "source:1:1")


def test_source_is_only_for_a_kind_with_source_text(run: Run, tmp_path: Path) -> None:
    """--source on a decision flow is exit 2, naming --config."""
    source = tmp_path / "x.aster"
    source.write_text(LOAN, encoding="utf-8")
    run.json("create", "nba", "--name", "N")
    assert_error(run("update", "nba", "--source", str(source)), 2, "decision-flow", "--config")
    assert_error(run("create", "nba2", "--name", "N", "--source", str(source)), 2, "--config")


# -- workflows ---------------------------------------------------------------------


@pytest.fixture
def order(run: Run, tmp_path: Path) -> str:
    """Workflow `order-fulfilment` (two triggers) with v1..v3 published, charge retries 3, 4, 5."""
    for number in (1, 2, 3):
        config = copy.deepcopy(ORDER)
        config["nodes"]["charge"]["retries"] = 2 + number
        path = write_config(tmp_path / f"wf{number}.json", config)
        if number == 1:
            run.json("create", "order-fulfilment", "--kind", "workflow", "--name", "Orders", "--config", path)
        else:
            run.json("update", "order-fulfilment", "--config", path)
        run.json("publish", "order-fulfilment", "-m", f"retries {2 + number}")
    return "order-fulfilment"


def test_a_workflow_snapshot_records_its_creator(run: Run, order: str) -> None:
    """versionCreatedBy stands after publishedBy and equals it; the summary counts nodes and triggers."""
    snapshot = run.json("show", order, "--version", "1")
    fields = list(snapshot)
    assert fields[fields.index("publishedBy") + 1] == "versionCreatedBy"
    assert snapshot["versionCreatedBy"] == snapshot["publishedBy"] == "tester"
    assert snapshot["summary"] == {"nodeCount": 5, "triggerCount": 2}
    assert "active" not in run.json("versions", order)["versions"][0]  # only a policy's entries carry it


def test_workflow_rollback_checks_expected_current_version(run: Run, store: Path, order: str) -> None:
    """expectedCurrentVersion that is not the active version: exit 4, nothing written; the right one appends v4."""
    before = tree_bytes(store)
    assert_error(run("rollback", order, "--version", "1", "--expected-current-version", "2"), 4,
                 "workflow 'order-fulfilment' has active version v3, not v2")
    assert tree_bytes(store) == before
    result = run.json("rollback", order, "--version", "1", "--expected-current-version", "3")
    assert (result["previousVersion"], result["currentVersion"], result["restoredVersion"]) == (3, 4, 1)
    snapshot = run.json("show", order, "--version", "4")
    assert snapshot["notes"] == "Rollback to v1"
    assert snapshot["configSnapshot"]["nodes"]["charge"]["retries"] == 3
    assert run("verify").exit_code == 0


def test_a_workflow_head_says_whether_it_has_a_draft_and_a_live_version(run: Run, order: str) -> None:
    """show --json adds hasDraft (draft ≠ active config) and hasLiveVersion, after the head's fields."""
    head = run.json("show", order)
    assert list(head)[-2:] == ["hasDraft", "hasLiveVersion"]
    assert (head["hasDraft"], head["hasLiveVersion"]) == (False, True)
    run.json("update", order, "--set", "/nodes/notify/template=\"order-shipped\"")
    assert run.json("show", order)["hasDraft"] is True
    assert "hasDraft" not in read_head(Path(run.store), order)  # derived, never stored


def test_diff_names_a_workflow_node_by_its_id(run: Run, order: str) -> None:
    """A changed field in one node is one change at /nodes/<id>/…"""
    changes = run.json("diff", order, "1", "2")["changes"]
    assert changes == [{"op": "replace", "path": "/nodes/charge/retries", "old": 3, "new": 4}]


def test_a_paused_workflow_carries_its_reason(run: Run, store: Path, order: str) -> None:
    """--paused-reason with --status paused; moving away from paused clears it; a bad one is exit 2."""
    head = run.json("update", order, "--status", "paused", "--paused-reason", "consecutive_failures")
    assert (head["status"], head["pausedReason"]) == ("paused", "consecutive_failures")
    assert list(head).index("pausedReason") == list(head).index("status") + 1
    assert run.json("update", order, "--status", "active")["pausedReason"] is None
    assert_error(run("update", order, "--paused-reason", "manual"), 2, "status paused")
    assert run("update", order, "--status", "paused", "--paused-reason", "tired").exit_code == 2
    assert run("verify").exit_code == 0


# -- every kind --------------------------------------------------------------------


def test_a_decision_flow_is_the_default_kind(run: Run, tmp_path: Path) -> None:
    """create without --kind (or with --kind decision-flow) makes a decision flow; its snapshots say so."""
    run.json("create", "nba", "--name", "N", "--kind", "decision-flow", "--config",
             write_config(tmp_path / "nba.json", NBA))
    assert run.json("show", "nba")["kind"] == "decision-flow"
    run.json("publish", "nba")
    snapshot = run.json("show", "nba", "--version", "1")
    assert snapshot["kind"] == "decision-flow"
    assert snapshot["summary"] == {"nodeCount": 5, "scoringMethod": "propensity"}


def test_a_flows_kind_never_changes(run: Run, store: Path, loan: str) -> None:
    """update --kind naming another kind is exit 2, nothing written; the same kind is accepted."""
    before = tree_bytes(store)
    assert_error(run("update", loan, "--kind", "workflow"), 2, "a flow's kind never changes", "--kind workflow")
    assert tree_bytes(store) == before
    assert run("update", loan, "--kind", "policy").exit_code == 0


def test_an_unknown_kind_is_exit_2(run: Run, store: Path) -> None:
    """--kind outside the three is a usage error, listing the kinds."""
    result = run("create", "x", "--name", "X", "--kind", "rulebook")
    assert result.exit_code == 2
    assert "decision-flow" in result.stderr and "Traceback" not in result.stderr


def test_list_filters_by_kind_and_shows_it(run: Run, loan: str, order: str) -> None:
    """list --kind K keeps only K's flows (total counts after the filter); the table has a KIND column."""
    run.json("create", "nba", "--name", "N")
    page = run.json("list", "--kind", "policy")
    assert [flow["key"] for flow in page["data"]] == [loan] and page["pagination"]["total"] == 1
    table = run("list").stdout
    assert "KIND" in table and "workflow" in table and "decision-flow" in table


def test_versions_tables_show_each_kinds_summary(run: Run, loan: str, order: str) -> None:
    """A policy's table has MODULE and FUNCTION; a workflow's NODES and TRIGGERS."""
    policy_table = run("versions", loan).stdout
    assert "MODULE" in policy_table and "Loan.Approval" in policy_table and "isEligible" in policy_table
    workflow_table = run("versions", order).stdout
    assert "TRIGGERS" in workflow_table and "SCORING" not in workflow_table


def test_edit_opens_a_policy_as_its_aster_text(run: Run, loan: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor gets a .aster file holding the source; the saved text becomes the draft's source."""
    script = tmp_path / "editor.py"
    seen = tmp_path / "seen.txt"
    script.write_text(f"import sys\np = sys.argv[-1]\ntext = open(p).read()\n"
                      f"open({str(seen)!r}, 'w').write(p + '\\n' + text)\n"
                      "open(p, 'w').write(text.replace('50000', '55000'))\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"python3 {script}")
    result = run("edit", loan)
    assert result.exit_code == 0, result.stderr
    path, text = seen.read_text(encoding="utf-8").split("\n", 1)
    assert path.endswith(".aster") and text == loan_source(50000)
    assert run.json("show", loan)["draftConfig"]["source"] == loan_source(55000)


def test_export_and_import_keep_a_policys_swap(run: Run, store: Path, loan: str, tmp_path: Path) -> None:
    """A policy rolled back (no snapshot) exports and imports with its active version and history."""
    run.json("rollback", loan, "--version", "1", "-m", "back")
    bundle = tmp_path / "loan.json"
    exported = run("export", loan)
    assert exported.exit_code == 0, exported.stderr
    bundle.write_text(exported.stdout, encoding="utf-8")
    imported = run.json("import", str(bundle), "--key", "loan-copy", "--id", "flow_copy")
    assert (imported["kind"], imported["activeVersion"], imported["latestVersion"]) == ("policy", 1, 3)
    assert run("verify").exit_code == 0


def test_verify_catches_an_active_version_the_history_does_not_tell(run: Run, store: Path, loan: str) -> None:
    """A hand edit of a policy's activeVersion disagrees with the audit log's last swap: exit 8, naming both."""
    run.json("rollback", loan, "--version", "1")
    head = read_head(store, loan)
    head["activeVersion"] = 2
    (flow_dir(store, loan) / "flow.json").write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    result = run("verify")
    assert result.exit_code == 8
    assert "activeVersion is 2, but the audit log's last release made v1 active" in result.stdout


def test_verify_catches_a_head_whose_kind_its_snapshots_deny(run: Run, store: Path, tmp_path: Path) -> None:
    """A decision flow's head hand-edited to say policy: every snapshot (kind decision-flow) disagrees, exit 8."""
    run.json("create", "nba", "--name", "N", "--config", write_config(tmp_path / "nba.json", NBA))
    run.json("publish", "nba")
    head = read_head(store, "nba")
    head["kind"] = "policy"
    (flow_dir(store, "nba") / "flow.json").write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    result = run("verify")
    assert result.exit_code == 8
    assert "kind 'decision-flow' differs from flow.json's 'policy'" in result.stdout


def test_source_over_a_config_that_is_no_object_is_refused_cleanly(run: Run, store: Path, tmp_path: Path) -> None:
    """--source with a --config holding a list: exit 2 at `$`, no crash, nothing written."""
    source = tmp_path / "p.aster"
    source.write_text(LOAN, encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    before = tree_bytes(store)
    assert_error(run("create", "p", "--kind", "policy", "--name", "P", "--config", str(tmp_path / "list.json"),
                     "--source", str(source)), 2, "$")
    assert tree_bytes(store) == before

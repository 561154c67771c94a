"""`flowctl history FLOW`: the audit log, newest first, as a table or JSON."""

from __future__ import annotations

from conftest import PublishVersions, Run


def test_json_is_the_entries_newest_first(run: Run, publish_versions: PublishVersions) -> None:
    """--json prints the audit entries as a list, newest first, ISO timestamps as stored."""
    publish_versions("f", 2)
    assert run("rollback", "f", "-m", "oops").exit_code == 0
    entries = run.json("history", "f")
    assert [e["action"] for e in entries] == ["rollback", "publish", "update", "publish", "update", "create"]
    assert [e["rowVersion"] for e in entries] == [6, 5, 4, 3, 2, 1]
    assert entries[0] == {"at": "2026-03-15T14:30:00.000Z", "actor": "tester", "action": "rollback",
                          "rowVersion": 6, "version": 3, "restoredVersion": 1, "previousVersion": 2,
                          "notes": "Rollback to v1: oops"}


def test_limit(run: Run, publish_versions: PublishVersions) -> None:
    """--limit N keeps the newest N entries."""
    publish_versions("f", 2)
    assert [e["rowVersion"] for e in run.json("history", "f", "--limit", "2")] == [5, 4]
    assert len(run.json("history", "f", "--limit", "100")) == 5
    assert run("history", "f", "--limit", "0").exit_code == 2


def test_table_shows_human_timestamps_and_details(run: Run, publish_versions: PublishVersions) -> None:
    """The table: WHEN (human form), ACTOR, ACTION, ROW, DETAILS."""
    publish_versions("f", 1)
    assert run("update", "f", "--name", "New", "--status", "paused").exit_code == 0
    result = run("history", "f")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["WHEN", "ACTOR", "ACTION", "ROW", "DETAILS"]
    assert lines[1].split()[:7] == ["2026-03-15", "14:30", "UTC", "tester", "update", "4", "changed"]
    assert "changed name, status" in lines[1]
    assert "v1: release 1" in lines[2]
    assert "T14:30:00.000Z" not in result.stdout


def test_flow_by_id_and_missing_flow(run: Run) -> None:
    """`history` accepts a flow id as well as a key; an unknown flow exits 3 (not found)."""
    assert run("create", "f", "--name", "F", "--id", "flow_abc").exit_code == 0
    assert run.json("history", "flow_abc")[0]["action"] == "create"
    assert run("history", "nope").exit_code == 3


def test_history_of_another_tenant_is_invisible(run: Run) -> None:
    """A flow created in tenant a is not found (exit 3) by `history` in the default tenant."""
    assert run("--tenant", "a", "create", "f", "--name", "F").exit_code == 0
    assert run("history", "f").exit_code == 3

"""The first things a newcomer does work end to end."""

from pathlib import Path

from conftest import PublishVersions, Run, run_process


def test_seed_scenario_rollback_appends_a_version(run: Run, publish_versions: PublishVersions) -> None:
    """publish v1..v5, rollback to 3 → v6 equals v3 and is active."""
    publish_versions("f", 5)
    result = run.json("rollback", "f", "--version", "3", "-m", "v4 mis-scored")
    assert (result["previousVersion"], result["currentVersion"], result["restoredVersion"]) == (5, 6, 3)
    v3 = run.json("show", "f", "--version", "3")
    v6 = run.json("show", "f", "--version", "6")
    assert v6["configSnapshot"] == v3["configSnapshot"]
    assert v6["notes"] == "Rollback to v3: v4 mis-scored"


def test_installed_entry_point_runs(store: Path) -> None:
    """The console script is installed and finds the store from --store."""
    result = run_process("--store", str(store), "list", "--json")
    assert result.returncode == 0, result.stderr
    assert '"total": 0' in result.stdout

"""A merge that mixes two branches' files is reported, and --repair does not hide it."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import Run, scored, write_config


def test_snapshot_from_another_branch_is_reported_and_not_repaired_away(
    run: Run, publish_versions, store: Path, tmp_path: Path
) -> None:
    """Branches A and B both publish v2; taking B's snapshot into A's flow
    directory leaves the index and audit log disagreeing with it: verify
    says so, and --repair leaves it for a person (it cannot know which side is right)."""
    publish_versions("f", 1)
    branch_b = tmp_path / "branch-b"
    shutil.copytree(store, branch_b)
    other = Run(branch_b)
    assert other("update", "f", "--config", write_config(tmp_path / "b.json", scored(top_n=9))).exit_code == 0
    assert other("publish", "f", "-m", "from B", "--actor", "bob").exit_code == 0
    assert run("update", "f", "--config", write_config(tmp_path / "a.json", scored(top_n=7))).exit_code == 0
    assert run("publish", "f", "-m", "from A").exit_code == 0

    snapshot = Path("flows/default/f/versions/000002.json")
    shutil.copyfile(branch_b / snapshot, store / snapshot)

    first = run("verify")
    assert first.exit_code == 8
    assert "versions.jsonl: disagrees with the snapshots" in first.stdout
    assert "audit.jsonl: line" in first.stdout and "disagrees with 000002.json" in first.stdout

    repaired = run("verify", "--repair")
    assert repaired.exit_code == 8
    assert "disagrees" in repaired.stdout

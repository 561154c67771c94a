"""A merge that mixes two branches' files is reported, and --repair does not hide it."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import PublishVersions, Run, scored, tree_bytes, write_config


def test_snapshot_from_another_branch_is_reported_and_not_repaired_away(
    run: Run, publish_versions: PublishVersions, store: Path, tmp_path: Path
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
    # The snapshot is the odd one out: the index and the audit log (both A's) agree.
    assert first.stdout.startswith("flows/default/f/versions/000002.json: disagrees with its lines in "
                                   "versions.jsonl and audit.jsonl, which agree with each other")
    assert "a person must decide" in first.stdout and "--repair" not in first.stdout
    before = tree_bytes(store)

    repaired = run("verify", "--repair")
    assert repaired.exit_code == 8
    assert repaired.stdout == first.stdout
    assert tree_bytes(store) == before  # nothing rebuilt from the doubtful snapshot

    # A write refuses to build on it: publish and rollback to v2 exit 8, writing nothing.
    for args in (["publish", "f"], ["rollback", "f", "--version", "1"], ["update", "f", "--name", "x"]):
        result = run(*args)
        assert result.exit_code == 8, (args, result.output)
        assert tree_bytes(store) == before

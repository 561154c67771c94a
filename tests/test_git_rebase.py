"""`flowctl rebase`: a pull-request branch's flowctl operations re-applied on
top of a main that moved, so the branch merges without conflicts (§11.4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitremote import Clone, Remote, scored_config


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    remote = Remote(tmp_path, git_settings="commit = true\n")  # commits, pushed by hand: the PR workflow
    remote.seed.ok("create", "f", "--name", "F", "--config", "-", stdin=scored_config())
    remote.seed.ok("publish", "f", "-m", "base")
    remote.seed.git("push", "-q", "origin", "main")
    return remote


def branch_and_main(remote: Remote) -> tuple[Clone, Clone]:
    """`feature` in one clone, `main` in another; both then publish f (v2 each)."""
    main, feature = remote.clone("main"), remote.clone("feature")
    feature.git("switch", "-q", "-c", "feature")
    return main, feature


def test_two_branches_that_both_published_merge_cleanly_after_rebase(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    feature.ok("update", "f", "--set", "/nodes/rank/config/topN=3", "--actor", "bob")
    feature.ok("publish", "f", "-m", "top 3", "--actor", "bob")
    feature.ok("rollback", "f", "--version", "1", "--notes", "undo top 3", "--actor", "bob")
    feature.ok("rollback", "f", "--version", "2", "--notes", "redo top 3", "--actor", "bob")  # a branch version
    (feature.path / "docs.md").write_text("why top 3\n", encoding="utf-8")
    feature.git("add", "docs.md")
    feature.git("commit", "-q", "-m", "explain top 3")
    main.ok("update", "f", "--description", "the main one", "--actor", "alice")
    main.ok("publish", "f", "-m", "from main", "--actor", "alice")
    main.git("push", "-q", "origin", "main")
    # Without rebase, the two histories collide in git:
    probe = remote.clone("probe")
    probe.git("fetch", "-q", str(feature.path), "feature:feature")
    probe.git("merge", "-q", "--no-edit", "feature", check=False)
    conflicted = probe.git("diff", "--name-only", "--diff-filter=U").splitlines()
    assert "flows/default/f/versions.jsonl" in conflicted and "flows/default/f/versions/000002.json" in conflicted
    probe.git("merge", "--abort")

    feature.git("fetch", "-q", "origin")
    done = feature.ok("rebase", "--onto", "origin/main", "--json")
    report = json.loads(done.stdout)
    assert [(move["op"], move["from"], move["to"]) for move in report["operations"]] == [
        ("update", None, None), ("publish", 2, 3), ("rollback", 3, 4), ("rollback", 4, 5)]
    assert len(report["picked"]) == 1
    assert [(entry["version"], entry["notes"], entry["publishedBy"]) for entry in feature.versions("f")] == [
        (1, "base", "tester"), (2, "from main", "alice"), (3, "top 3", "bob"),
        (4, "Rollback to v1: undo top 3", "bob"), (5, "Rollback to v3: redo top 3", "bob")]
    head = feature.head("f")
    assert head["description"] == "the main one" and head["draftConfig"]["nodes"][2]["config"]["topN"] == 3
    assert (feature.path / "docs.md").read_text(encoding="utf-8") == "why top 3\n"
    assert feature.flowctl("verify").returncode == 0
    # The pull request now merges without a conflict, and main verifies after it.
    feature.git("push", "-q", "origin", "feature")
    main.git("fetch", "-q", "origin")
    main.git("merge", "-q", "--no-edit", "origin/feature")
    assert main.flowctl("verify").returncode == 0
    assert [entry["version"] for entry in main.versions("f")] == [1, 2, 3, 4, 5]


def test_an_operation_that_no_longer_applies_stops_with_exit_4_and_leaves_the_branch(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    feature.ok("update", "f", "--description", "feature's words")
    main.ok("update", "f", "--description", "main's words")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    before = feature.state()
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 4
    assert "no longer applies: the description of 'f' was changed there too" in done.stderr
    assert f"{feature.git('rev-parse', 'HEAD')[:12]} (flowctl: update f (rowVersion 3) (tester))" in done.stderr
    assert feature.state() == before and feature.git("branch", "--show-current") == "feature"


def test_a_hand_edit_of_the_store_on_the_branch_is_not_rebased(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    head_file = feature.path / "flows" / "default" / "f" / "flow.json"
    head_file.write_text(head_file.read_text(encoding="utf-8").replace('"name": "F"', '"name": "by hand"'),
                         encoding="utf-8")
    feature.git("commit", "-q", "-am", "rename by hand")
    main.ok("publish", "f")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    before = feature.state()
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 4 and "rename by hand" in done.stderr and "not a flowctl operation" in done.stderr
    assert feature.state() == before


def test_rebase_of_a_branch_already_on_top_changes_nothing(remote: Remote) -> None:
    _, feature = branch_and_main(remote)
    feature.ok("publish", "f")
    before = feature.state()
    assert "nothing to rebase" in feature.ok("rebase", "--onto", "origin/main").stdout
    assert feature.state() == before


def test_rebase_recreates_a_flow_created_on_the_branch_and_refuses_a_key_main_took(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    feature.ok("create", "g", "--name", "G", "--config", "-", stdin=scored_config())
    feature.ok("publish", "g")
    main.ok("create", "h", "--name", "H")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    feature.ok("rebase")  # default: the remote's default branch, origin/main
    assert feature.head("g")["latestVersion"] == 1 and feature.head("h")["name"] == "H"
    assert feature.flowctl("verify").returncode == 0
    main.ok("create", "g", "--name", "G on main")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 4 and "a flow 'g' exists there too" in done.stderr


def test_rebase_keeps_each_commit_s_author(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    feature.ok("update", "f", "--description", "bob's", "--author", "Bob Builder <bob@example.com>")
    main.ok("create", "g", "--name", "G")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    feature.ok("rebase", "--onto", "origin/main")
    assert feature.git("log", "-1", "--format=%an <%ae>") == "Bob Builder <bob@example.com>"


def test_an_amended_flowctl_commit_is_not_rebased_as_the_bare_operation(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    feature.ok("update", "f", "--name", "renamed on the branch")
    (feature.path / "flows" / "default" / "f" / "README.txt").write_text("my notes\n", encoding="utf-8")
    feature.git("add", "-A", "flows")
    feature.git("commit", "-q", "--amend", "--no-edit")
    main.ok("create", "h", "--name", "H")
    main.git("push", "-q", "origin", "main")
    feature.git("fetch", "-q", "origin")
    before = feature.state()
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 4 and "not a flowctl operation" in done.stderr
    assert feature.state() == before


def test_rebase_failures_from_git_are_named_and_leave_the_branch(remote: Remote) -> None:
    main, feature = branch_and_main(remote)
    (main.path / "shared.txt").write_text("main\n", encoding="utf-8")
    main.git("add", "shared.txt")
    main.git("commit", "-q", "-m", "main adds shared.txt")
    main.git("push", "-q", "origin", "main")
    feature.ok("update", "f", "--description", "feat")
    feature.git("fetch", "-q", "origin")
    (feature.path / "shared.txt").write_text("my wip\n", encoding="utf-8")  # untracked, in REF's way
    before = feature.state()
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 4 and "shared.txt" in done.stderr and "Traceback" not in done.stderr
    assert feature.state() == before
    feature.git("checkout", "-q", "--orphan", "unrelated")
    feature.git("commit", "-q", "-m", "unrelated root")
    done = feature.flowctl("rebase", "--onto", "origin/main")
    assert done.returncode == 2 and "share no history" in done.stderr

"""Writes as git commits and pushes (docs/contract.md §11), against a real bare
remote and real clones: what each write commits, the compare-and-swap push
and its re-apply, the refusals that leave a clone exactly as it was."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gitremote import Clone, Remote, git_env, scored_config


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def published(clone: Clone, key: str = "f", *, notes: str = "first", actor: str = "alice") -> None:
    clone.ok("create", key, "--name", key.upper(), "--config", "-", stdin=scored_config(), env={"FLOWCTL_ACTOR": actor})
    clone.ok("publish", key, "-m", notes, "--actor", actor)


def test_a_write_commits_only_its_own_files_with_a_message_a_reviewer_reads(remote: Remote) -> None:
    clone = remote.clone("a")
    (clone.path / "notes.txt").write_text("mine, unstaged\n", encoding="utf-8")
    (clone.path / "staged.txt").write_text("mine, staged\n", encoding="utf-8")
    clone.git("add", "staged.txt")
    published(clone, notes="top 3 only")
    assert clone.subjects("-2") == ['flowctl: publish f v1 — "top 3 only" (alice)', "flowctl: create f (alice)"]
    files = clone.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(files) == ["flows/default/f/audit.jsonl", "flows/default/f/flow.json",
                             "flows/default/f/versions.jsonl", "flows/default/f/versions/000001.json"]
    trailer = clone.git("log", "-1", "--format=%(trailers:key=Flowctl-Operation,valueonly)")
    assert json.loads(trailer) == {"op": "publish", "tenant": "default", "actor": "alice", "flow": "f",
                                   "version": 1, "notes": "top 3 only"}
    # The user's own files: still there, still uncommitted, the staged one still staged.
    assert clone.git("status", "--porcelain").splitlines() == ["A  staged.txt", "?? notes.txt"]
    assert remote.tip() == clone.git("rev-parse", "HEAD")


def test_every_write_command_makes_one_commit(remote: Remote, tmp_path: Path) -> None:
    clone = remote.clone("a")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/\\"topN\\": 5/\\"topN\\": 4/" "$1"\n', encoding="utf-8")
    editor.chmod(0o755)
    published(clone)
    clone.ok("update", "f", "--description", "the one")
    clone.ok("edit", "f", env={"EDITOR": str(editor)})
    clone.ok("publish", "f")
    clone.ok("rollback", "f", "--version", "1", "--notes", "v2 was wrong")
    bundle = clone.ok("export", "f").stdout
    clone.ok("import", "-", "--key", "g", "--id", "flow_000000000001", stdin=bundle)
    clone.ok("delete", "g", "--yes")
    assert [subject.split(" ")[1] for subject in clone.subjects()[:-1]] == [
        "delete", "import", "rollback", "publish", "update", "update", "publish", "create"]
    assert clone.subjects("-3")[2] == 'flowctl: rollback f to v1 as v3 — "v2 was wrong" (tester)'
    assert clone.git("status", "--porcelain") == ""


def test_the_actor_authors_the_commit_when_it_reads_as_a_person(remote: Remote) -> None:
    clone = remote.clone("a")
    clone.ok("create", "f", "--name", "F", "--actor", "Ada Lovelace <ada@example.com>")
    clone.ok("update", "f", "--description", "d", "--actor", "ci-bot")
    clone.ok("update", "f", "--description", "e", "--author", "Release Bot <bot@example.com>")
    assert clone.git("log", "--format=%an <%ae>", "-3").splitlines() == [
        "Release Bot <bot@example.com>", "Test Runner <runner@example.com>", "Ada Lovelace <ada@example.com>"]


def test_no_git_table_no_commit_and_the_flags_override_the_table(tmp_path: Path) -> None:
    remote = Remote(tmp_path, git_settings="commit = false\n")
    clone = remote.clone("a")
    before = clone.git("rev-parse", "HEAD")
    clone.ok("create", "f", "--name", "F")
    assert clone.git("rev-parse", "HEAD") == before  # commit = false: as without git
    assert clone.flowctl("update", "f", "--description", "d", "--commit").returncode == 4  # not its files
    clone.git("add", "-A")
    clone.git("commit", "-q", "-m", "the create, by hand")
    clone.ok("update", "f", "--description", "d", "--commit")
    assert clone.subjects("-1") == ["flowctl: update f (rowVersion 2) (tester)"]
    clone.ok("update", "f", "--description", "e", "--commit", "--no-push")
    assert remote.tip() == before  # never pushed: no push was asked for
    done = clone.flowctl("update", "f", "--description", "x", "--no-commit", "--push", "origin")
    assert done.returncode == 2 and "--no-commit with --push" in done.stderr


def test_a_dry_run_commits_nothing(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    before = clone.state()
    clone.ok("publish", "f", "--dry-run")
    assert clone.state() == before


def test_git_asked_for_outside_a_work_tree_is_exit_2(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    store = Clone(tmp_path / "plain", env)
    store.path.mkdir()
    store.ok("init", ".")
    done = store.flowctl("create", "f", "--name", "F", "--commit")
    assert done.returncode == 2 and "not inside a git work tree" in done.stderr
    (store.path / "flowctl.toml").write_text('format = 1\ndefault_tenant = "default"\n[git]\ncommit = true\n',
                                             encoding="utf-8")
    done = store.flowctl("create", "f", "--name", "F")
    assert done.returncode == 2 and "not inside a git work tree" in done.stderr
    assert not (store.path / "flows" / "default" / "f").exists()


def test_a_missing_git_is_a_clear_error(remote: Remote) -> None:
    clone = remote.clone("a")
    done = clone.flowctl("create", "f", "--name", "F", env={"PATH": "/nonexistent"})
    assert done.returncode == 2
    assert "git is not installed" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("table, words", [
    ("commit = 1\n", "commit must be true or false"),
    ('push = ""\n', "push must be the name of a git remote"),
    ("retries = -1\n", "retries must be a whole number"),
    ("colour = true\n", "unknown setting 'colour'"),
])
def test_a_malformed_git_table_is_exit_8(tmp_path: Path, table: str, words: str) -> None:
    remote = Remote(tmp_path, git_settings=table)
    done = remote.clone("a").flowctl("create", "f", "--name", "F")
    assert done.returncode == 8 and words in done.stderr


def test_uncommitted_changes_in_the_store_refuse_the_write_and_survive(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    head_file = clone.path / "flows" / "default" / "f" / "flow.json"
    edited = head_file.read_text(encoding="utf-8").replace('"name": "F"', '"name": "hand edit"')
    head_file.write_text(edited, encoding="utf-8")
    stray = clone.path / "flows" / "default" / "notes.md"
    stray.write_text("my notes\n", encoding="utf-8")
    before = clone.state()
    done = clone.flowctl("publish", "f")
    assert done.returncode == 4 and "uncommitted changes" in done.stderr and "commit or stash" in done.stderr
    assert clone.state() == before
    assert head_file.read_text(encoding="utf-8") == edited and stray.read_text(encoding="utf-8") == "my notes\n"


def test_an_unpushed_commit_of_the_user_refuses_the_write(remote: Remote) -> None:
    clone = remote.clone("a")
    (clone.path / "README").write_text("mine\n", encoding="utf-8")
    clone.git("add", "README")
    clone.git("commit", "-q", "-m", "my own work")
    before, tip = clone.state(), remote.tip()
    done = clone.flowctl("create", "f", "--name", "F")
    assert done.returncode == 4 and "my own work" in done.stderr and "flowctl did not make" in done.stderr
    assert clone.state() == before and remote.tip() == tip


def test_a_push_that_loses_the_race_is_re_applied_on_the_new_state(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first, actor="ci-bot")
    second.git("pull", "-q")
    first.ok("publish", "f", "-m", "second", "--actor", "ci-bot")
    first.ok("publish", "f", "-m", "third", "--actor", "ci-bot")
    done = second.ok("publish", "f", "-m", "mine", "--actor", "alice")  # second still thinks v1 is the latest
    assert done.stdout.startswith("Published f v4 ")
    assert "flowctl: note: published f v4" in done.stderr
    assert "(v2 and v3 were published meanwhile by ci-bot)" in done.stderr
    assert remote.tip() == second.git("rev-parse", "HEAD")
    assert [(entry["version"], entry["publishedBy"]) for entry in second.versions("f")] == [
        (1, "ci-bot"), (2, "ci-bot"), (3, "ci-bot"), (4, "alice")]
    assert second.git("status", "--porcelain") == ""
    assert second.flowctl("verify").returncode == 0


def test_the_re_apply_notice_is_one_json_line_with_json(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.git("pull", "-q")
    first.ok("publish", "f")
    done = second.ok("publish", "f", "--json")
    assert json.loads(done.stdout)["latestVersion"] == 3
    notice = json.loads(done.stderr)["notice"]
    assert notice["code"] == "re-applied" and "v2 was published meanwhile" in notice["message"]


def test_an_explicit_precondition_that_no_longer_holds_is_exit_4_and_nothing_is_pushed(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.git("pull", "-q")
    row_version = second.head("f")["rowVersion"]
    first.ok("update", "f", "--description", "changed over there")
    before, tip = second.state(), remote.tip()
    done = second.flowctl("publish", "f", "--row-version", str(row_version))  # true locally, not on the remote
    assert done.returncode == 4 and "rowVersion" in done.stderr
    assert second.state() == before and remote.tip() == tip


def test_a_policy_already_active_after_the_remote_moved_is_exit_4(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    source = "Module Loan.Approval.\n\nRule isEligible given applicant: Applicant, produce Bool:\n  Return true.\n"
    first.ok("create", "p", "--kind", "policy", "--name", "P", "--source", "-", stdin=source)
    first.ok("publish", "p")
    first.ok("update", "p", "--source", "-", stdin=source.replace("Return true", "Return false"))
    first.ok("publish", "p")
    second.git("pull", "-q")
    first.ok("rollback", "p", "--version", "1")
    tip = remote.tip()
    done = second.flowctl("rollback", "p", "--version", "1")
    assert done.returncode == 4 and "already the active version" in done.stderr
    assert remote.tip() == tip and second.git("status", "--porcelain") == ""


def test_a_server_hook_refusal_is_exit_6_and_the_clone_is_left_as_it_was(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    remote.hook("pre-receive", 'echo "main is protected: open a pull request" >&2\nexit 1\n')
    before, tip = clone.state(), remote.tip()
    done = clone.flowctl("publish", "f", "-m", "refused")
    assert done.returncode == 6
    assert "main is protected: open a pull request" in done.stderr and "Traceback" not in done.stderr
    assert clone.state() == before and remote.tip() == tip
    assert [entry["version"] for entry in clone.versions("f")] == [1]


def test_a_push_losing_more_races_than_retries_is_exit_7_and_nothing_changes(tmp_path: Path) -> None:
    remote = Remote(tmp_path, git_settings='commit = true\npush = "origin"\nretries = 0\n')
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.git("pull", "-q")
    first.ok("publish", "f")
    before = second.state()
    done = second.flowctl("publish", "f")
    assert done.returncode == 7 and "retry" in done.stderr
    assert second.state() == before


def test_a_local_commit_hook_refusal_is_exit_6_and_the_store_is_put_back(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    clone.hook("pre-commit", "echo 'no commits on Fridays' >&2\nexit 1\n")
    before = clone.state()
    done = clone.flowctl("publish", "f")
    assert done.returncode == 6 and "no commits on Fridays" in done.stderr
    assert clone.state() == before


def test_push_from_the_environment_and_no_push_flag(tmp_path: Path) -> None:
    remote = Remote(tmp_path, git_settings="commit = true\n")
    clone = remote.clone("a")
    tip = remote.tip()
    clone.ok("create", "f", "--name", "F")
    assert remote.tip() == tip  # commit only
    clone.git("push", "-q", "origin", "main")
    clone.ok("update", "f", "--description", "d", env={"FLOWCTL_GIT_PUSH": "origin"})
    assert remote.tip() == clone.git("rev-parse", "HEAD")
    clone.ok("update", "f", "--description", "e", "--no-push", env={"FLOWCTL_GIT_PUSH": "origin"})
    assert remote.tip() != clone.git("rev-parse", "HEAD")


def test_sync_fast_forwards_and_verifies_what_arrived(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    done = second.ok("sync")
    assert "Fast-forwarded main" in done.stdout and "ok: every tenant verified" in done.stdout
    assert second.versions("f")[0]["version"] == 1
    assert "up to date" in second.ok("sync").stdout
    # Damage arriving through git is reported, exit 8.
    snapshot = first.path / "flows" / "default" / "f" / "versions" / "000001.json"
    os.chmod(snapshot, 0o644)
    snapshot.write_text(snapshot.read_text(encoding="utf-8").replace('"first"', '"rewritten"'), encoding="utf-8")
    first.git("commit", "-q", "-am", "a bad hand edit")
    first.git("push", "-q", "origin", "main")
    done = second.flowctl("sync")
    assert done.returncode == 8 and "000001.json" in done.stdout


def test_sync_refuses_to_merge_a_diverged_branch(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.ok("create", "g", "--name", "G", "--no-push")
    done = second.flowctl("sync")
    assert done.returncode == 4 and "diverged" in done.stderr and "flowctl rebase" in done.stderr


def test_a_flow_deleted_on_another_clone_leaves_nothing_in_the_way_of_creating_it_again(remote: Remote) -> None:
    first, second, third = remote.clone("a"), remote.clone("b"), remote.clone("c")
    published(first, "g")
    for clone in (second, third):
        clone.ok("sync")
        clone.ok("update", "g", "--description", f"touched in {clone.path.name}")  # leaves g's lock file
    first.ok("sync")
    first.ok("delete", "g", "--yes")
    # `flowctl sync` clears what git leaves of a deleted flow: the lock file it never tracked.
    third.ok("sync")
    assert not (third.path / "flows" / "default" / "g").exists()
    # A plain `git pull` leaves it; the directory is no flow, and a create of the key takes its place.
    second.git("pull", "-q")
    assert (second.path / "flows" / "default" / "g" / "flow.lock").exists()
    assert json.loads(second.ok("list", "--json").stdout)["pagination"]["total"] == 0
    found = second.flowctl("verify")
    assert found.returncode == 8 and "what git left of a deleted flow" in found.stdout
    assert "--repair" in found.stderr
    second.ok("create", "g", "--name", "G again")
    assert remote.clone("d").head("g")["name"] == "G again"


def test_reads_never_touch_the_remote(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    clone.git("remote", "set-url", "origin", str(remote.root / "gone.git"))  # unreachable from now on
    for read in (["show", "f"], ["versions", "f"], ["list"], ["history", "f"], ["diff", "f"], ["verify"]):
        assert clone.flowctl(*read).returncode == 0, read


def test_an_unreachable_remote_keeps_the_commit_for_the_next_write_which_lands_it_once(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    clone.git("remote", "set-url", "origin", str(remote.root / "gone.git"))
    done = clone.flowctl("publish", "f", "-m", "while offline")
    # Nobody can say whether it arrived: flowctl keeps its commit instead of guessing.
    assert done.returncode == 7 and "stays in this clone, unpushed" in done.stderr
    assert "do not repeat this command" in done.stderr and clone.git("status", "--porcelain") == ""
    clone.git("remote", "set-url", "origin", str(remote.bare))
    clone.ok("publish", "f", "-m", "back online")
    assert [entry["notes"] for entry in remote.clone("check").versions("f")] == [
        "first", "while offline", "back online"]


def test_a_push_whose_answer_is_lost_but_that_landed_succeeds(remote: Remote, tmp_path: Path) -> None:
    clone = remote.clone("a")
    published(clone)
    # The server dies right after updating the branch: the push landed, its answer never arrives.
    trigger = tmp_path / "drop-now"
    remote.hook("reference-transaction", f'[ "$1" = committed ] && [ -e {trigger} ] && '
                                         f'{{ rm -f {trigger}; kill -9 $PPID; }}\nexit 0\n')
    trigger.touch()
    done = clone.flowctl("publish", "f", "-m", "answer lost")
    assert done.returncode == 0, done.stderr
    assert not trigger.exists()  # the connection really dropped
    assert [entry["notes"] for entry in remote.clone("check").versions("f")] == ["first", "answer lost"]
    assert remote.tip() == clone.git("rev-parse", "HEAD")


def test_notes_of_any_shape_give_a_one_line_subject_and_an_exact_trailer(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    notes = "line one\nline two\x1b[31m\u2028 and \"quotes\" " + "long " * 20
    clone.ok("publish", "f", "-m", notes)
    subject = clone.subjects("-1")[0]
    assert subject.startswith('flowctl: publish f v2 — "line one line two [31m and "quotes" long long')
    assert subject.endswith('…" (tester)') and "\x1b" not in subject and len(subject) < 120
    trailer = clone.git("log", "-1", "--format=%(trailers:key=Flowctl-Operation,valueonly)")
    assert json.loads(trailer)["notes"] == notes


def test_an_author_that_is_not_name_and_email_is_exit_2(remote: Remote) -> None:
    clone = remote.clone("a")
    before = clone.state()
    done = clone.flowctl("create", "f", "--name", "F", "--author", "just a name")
    assert done.returncode == 2 and "Name <email>" in done.stderr
    assert clone.state() == before


def test_staged_work_outside_the_store_stays_staged_through_a_re_apply_and_a_refusal(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.git("pull", "-q")
    (second.path / "notes.txt").write_text("staged by hand\n", encoding="utf-8")
    second.git("add", "notes.txt")
    first.ok("publish", "f")
    second.ok("publish", "f", "-m", "re-applied")  # lost the race, fetched, moved, ran again
    assert second.git("status", "--porcelain") == "A  notes.txt"
    remote.hook("pre-receive", "echo no >&2\nexit 1\n")
    assert second.flowctl("publish", "f").returncode == 6
    assert second.git("status", "--porcelain") == "A  notes.txt"


def test_store_files_git_would_ignore_refuse_the_write(remote: Remote) -> None:
    clone = remote.clone("a")
    (clone.path / ".git" / "info" / "exclude").write_text("*.jsonl\n", encoding="utf-8")
    before = clone.state()
    done = clone.flowctl("create", "f", "--name", "F")
    assert done.returncode == 2 and "git ignores flows/default/<flow>/audit.jsonl" in done.stderr
    rule = done.stderr.split("find the rule with `")[1].split("`")[0]  # the advice works as printed
    assert subprocess.run(rule, shell=True, env=clone.env, capture_output=True, text=True).stdout.startswith(
        ".git/info/exclude:1:*.jsonl")
    assert clone.state() == before and not (clone.path / "flows" / "default" / "f").exists()
    assert clone.flowctl("verify").returncode == 0


def test_a_busy_git_index_refuses_the_write_before_anything_is_written(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    (clone.path / ".git" / "index.lock").touch()  # an editor's git running meanwhile
    before = clone.state()
    done = clone.flowctl("update", "f", "--name", "Renamed")
    assert done.returncode == 7 and "index.lock" in done.stderr
    assert clone.state() == before and clone.head("f")["name"] == "F"


def test_verify_repair_removes_what_git_left_of_a_deleted_flow_and_nothing_else(remote: Remote) -> None:
    clone = remote.clone("a")
    for key in ("g", "h"):
        published(clone, key)
    clone.git("rm", "-q", "-r", "flows/default/g")  # git deletes the flow; its lock file, untracked, stays
    clone.git("commit", "-q", "-m", "drop g by hand")
    (clone.path / "flows" / "default" / "h2").mkdir()
    (clone.path / "flows" / "default" / "h2" / "flow.lock").touch()
    (clone.path / "flows" / "default" / "h2" / "mine.txt").write_text("a user's file\n", encoding="utf-8")
    assert (clone.path / "flows" / "default" / "g" / "flow.lock").exists()
    clone.flowctl("verify", "--repair")
    assert not (clone.path / "flows" / "default" / "g").exists()
    assert (clone.path / "flows" / "default" / "h2" / "mine.txt").exists()  # not flowctl's: left alone


def test_a_user_commit_merged_from_another_remote_branch_is_not_pushed_by_surprise(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    clone.git("switch", "-q", "-c", "feature")
    (clone.path / "feature.txt").write_text("work\n", encoding="utf-8")
    clone.git("add", "feature.txt")
    clone.git("commit", "-q", "-m", "feature work (user)")
    clone.git("push", "-q", "-u", "origin", "feature")  # on origin, but not on origin/main
    clone.git("switch", "-q", "main")
    clone.git("merge", "-q", "--ff-only", "feature")
    tip = remote.tip()
    done = clone.flowctl("update", "f", "--name", "A")
    assert done.returncode == 4 and "feature work (user)" in done.stderr
    assert remote.tip() == tip


def test_a_publish_re_run_refuses_a_draft_someone_changed_meanwhile(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    second.git("pull", "-q")
    first.ok("update", "f", "--set", "/nodes/rank/config/topN=99")  # an unreviewed draft change, pushed
    tip = remote.tip()
    done = second.flowctl("publish", "f", "-m", "what I reviewed")
    assert done.returncode == 4 and "the draft of 'f' was changed meanwhile" in done.stderr
    assert "on origin's newer state" in done.stderr and "flowctl sync" in done.stderr
    assert remote.tip() == tip and [e["version"] for e in second.versions("f")] == [1]


def test_a_default_rollback_re_run_refuses_a_target_that_moved(remote: Remote) -> None:
    first, second = remote.clone("a"), remote.clone("b")
    published(first)
    first.ok("update", "f", "--set", "/nodes/rank/config/topN=4")
    first.ok("publish", "f")
    second.git("pull", "-q")  # sees v2 active: "back" means v1
    first.ok("update", "f", "--set", "/nodes/rank/config/topN=3")
    first.ok("publish", "f")
    tip = remote.tip()
    done = second.flowctl("rollback", "f")
    assert done.returncode == 4 and "would now go to v2, not v1" in done.stderr
    assert remote.tip() == tip


def test_a_local_pre_push_hook_refusal_is_exit_6_with_its_words(remote: Remote) -> None:
    clone = remote.clone("a")
    published(clone)
    clone.hook("pre-push", "echo 'pre-push: tests failed, not pushing' >&2\nexit 1\n")
    before, tip = clone.state(), remote.tip()
    done = clone.flowctl("update", "f", "--name", "X")
    assert done.returncode == 6 and "pre-push: tests failed, not pushing" in done.stderr
    assert clone.state() == before and remote.tip() == tip


def test_sync_of_a_branch_the_remote_lacks_is_nothing_to_pull(remote: Remote) -> None:
    clone = remote.clone("a")
    clone.git("switch", "-q", "-c", "feature")
    done = clone.ok("sync")
    assert "feature is ahead of origin: nothing to pull" in done.stdout


def test_git_variables_of_a_script_do_not_redirect_flowctl_to_another_repository(remote: Remote,
                                                                                  tmp_path: Path) -> None:
    other = remote.clone("other-repo")
    before = other.git("rev-parse", "HEAD")
    clone = remote.clone("a")
    clone.ok("create", "f", "--name", "F", env={"GIT_DIR": str(other.path / ".git")})
    assert other.git("rev-parse", "HEAD") == before
    assert clone.subjects("-1") == ["flowctl: create f (tester)"]


def test_a_write_without_commit_in_a_git_store_waits_for_the_clone_s_git_lock(remote: Remote) -> None:
    import fcntl

    clone = remote.clone("a")
    published(clone)
    with open(clone.path / ".git" / "flowctl-git.lock", "a+") as held:  # a git-enabled write in flight
        fcntl.flock(held, fcntl.LOCK_EX)
        done = clone.flowctl("update", "f", "--description", "local only", "--no-commit", "--lock-timeout", "0")
        assert done.returncode == 7 and "git lock of this clone" in done.stderr
    assert clone.head("f")["description"] == ""
    clone.ok("update", "f", "--description", "local only", "--no-commit")
    assert clone.head("f")["description"] == "local only"

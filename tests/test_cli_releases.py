"""publish, versions and rollback: new versions, history kept, preconditions (docs/contract.md §3, §5, §7)."""

from __future__ import annotations

import fcntl
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ENTRY_FIELDS,
    HEAD_FIELDS,
    SNAPSHOT_FIELDS,
    PublishVersions,
    Run,
    assert_error,
    audit_lines,
    build_template,
    copy_template,
    flow_dir,
    publish_series,
    read_head,
    run_process,
    scored,
    tree_bytes,
    write_config,
)

# -- local helpers -------------------------------------------------------------


def snapshot_files(store: Path, key: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((flow_dir(store, key) / "versions").glob("*.json"))}


def set_draft(run: Run, tmp_path: Path, key: str, config: dict[str, Any]) -> None:
    path = write_config(tmp_path / f"draft-{key}-{abs(hash(json.dumps(config)))}.json", config)
    result = run("update", key, "--config", path)
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def five_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per module: flow `f` with v1..v5 published, version i with topN = i, notes "release i"."""
    return build_template(tmp_path_factory, "five", lambda run, base: publish_series(run, base, "f", 5))


@pytest.fixture
def five(run: Run, five_template: Path) -> str:
    """This test's own copy of the five-version store (as `publish_versions("f", 5)` makes it)."""
    copy_template(run, five_template)
    return "f"


# -- the seed scenario -------------------------------------------------------------


def test_seed_scenario_rollback_to_v3(run: Run, store: Path, five: str) -> None:
    """v1..v5 then rollback --version 3: v6 holds v3's config, history and old snapshots untouched."""
    before = snapshot_files(store, "f")
    assert list(before) == [f"00000{i}.json" for i in range(1, 6)]
    result = run("rollback", "f", "--version", "3", "-m", "v4 mis-scored")
    assert result.exit_code == 0, result.stderr
    assert "v3" in result.stdout and "v6" in result.stdout

    after = snapshot_files(store, "f")
    assert {name: after[name] for name in before} == before  # v1..v5 byte-identical
    assert list(after) == [*before, "000006.json"]

    v3 = run.json("show", "f", "--version", "3")
    v6 = run.json("show", "f", "--version", "6")
    assert v6["configSnapshot"] == v3["configSnapshot"] == scored(top_n=3)
    assert v6["configSha256"] == v3["configSha256"]
    assert v6["notes"] == "Rollback to v3: v4 mis-scored"
    assert v6["source"] == {"action": "rollback", "restoredVersion": 3, "previousVersion": 5}
    assert list(v6["source"]) == ["action", "restoredVersion", "previousVersion"]
    assert v6["version"] == 6 and v6["publishedBy"] == "tester"

    head = run.json("show", "f")
    assert head["draftConfig"] == v3["configSnapshot"]
    assert (head["status"], head["activeVersion"], head["latestVersion"]) == ("active", 6, 6)

    last = audit_lines(store, "f")[-1]
    assert last["action"] == "rollback"
    assert (last["version"], last["restoredVersion"], last["previousVersion"]) == (6, 3, 5)
    assert last["notes"] == "Rollback to v3: v4 mis-scored"
    assert last["rowVersion"] == head["rowVersion"]


def test_rollback_json_shape(run: Run, five: str) -> None:
    """rollback --json is {"success", "previousVersion", "currentVersion", "restoredVersion", "flow"}."""
    body = run.json("rollback", "f", "--version", "2")
    assert list(body) == ["success", "previousVersion", "currentVersion", "restoredVersion", "flow"]
    assert (body["success"], body["previousVersion"], body["currentVersion"], body["restoredVersion"]) == (
        True, 5, 6, 2)
    assert list(body["flow"]) == HEAD_FIELDS
    assert body["flow"] == run.json("show", "f")


# -- rollback preconditions ----------------------------------------------------------


def test_rollback_to_active_version_is_conflict(run: Run, store: Path, five: str) -> None:
    """Rolling back to the version already active exits 4, names it, writes nothing."""
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "5"), 4, "v5", "already the active version")
    assert tree_bytes(store) == before


def test_rollback_to_missing_version_is_not_found(run: Run, store: Path, five: str) -> None:
    """Rolling back to a version that does not exist exits 3."""
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "9"), 3, "no version 9")
    assert tree_bytes(store) == before


def test_rollback_without_version_undoes_last_change(run: Run, store: Path, five: str) -> None:
    """No --version: the version active before the current one (v5 → v4; after that v6 → v5); output names it."""
    result = run("rollback", "f")
    assert result.exit_code == 0, result.stderr
    assert "to v4" in result.stdout
    v6 = run.json("show", "f", "--version", "6")
    assert v6["source"] == {"action": "rollback", "restoredVersion": 4, "previousVersion": 5}
    assert v6["configSnapshot"] == scored(4)

    body = run.json("rollback", "f")
    assert (body["restoredVersion"], body["previousVersion"], body["currentVersion"]) == (5, 6, 7)
    assert run.json("show", "f", "--version", "7")["configSnapshot"] == scored(5)


def test_rollback_without_version_after_explicit_rollback(run: Run, five: str) -> None:
    """After rollback to v3 (v6), a plain rollback goes back to v5, the version active before v6."""
    run.json("rollback", "f", "--version", "3")
    body = run.json("rollback", "f")
    assert (body["restoredVersion"], body["previousVersion"], body["currentVersion"]) == (5, 6, 7)
    assert body["flow"]["draftConfig"] == scored(5)


def test_rollback_with_only_v1_is_not_found(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """With only v1 published there is no earlier version: exit 3, nothing written."""
    publish_versions("f", 1)
    before = tree_bytes(store)
    assert_error(run("rollback", "f"), 3, "no version before v1")
    assert tree_bytes(store) == before


def test_rollback_never_published_is_not_found(run: Run) -> None:
    """A flow with no published version has nothing to roll back to (exit 3)."""
    run.json("create", "f", "--name", "F")
    assert_error(run("rollback", "f"), 3, "no published version")
    assert_error(run("rollback", "f", "--version", "1"), 3)


def test_rollback_to_same_config_as_active_is_conflict(run: Run, store: Path, tmp_path: Path,
                                                        publish_versions: PublishVersions) -> None:
    """When the active version already has N's config, rollback exits 4 and no version is written."""
    publish_versions("f", 2)
    set_draft(run, tmp_path, "f", scored(1))
    run.json("publish", "f")  # v3 == v1's config
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "1"), 4, "v3", "v1")
    assert tree_bytes(store) == before
    assert not (flow_dir(store, "f") / "versions" / "000004.json").exists()


def test_rollback_expected_current_version(run: Run, store: Path, five: str) -> None:
    """--expected-current-version must name the active version, else exit 4 and nothing written."""
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "3", "--expected-current-version", "4"), 4, "v5", "v4")
    assert tree_bytes(store) == before
    body = run.json("rollback", "f", "--version", "3", "--expected-current-version", "5")
    assert body["currentVersion"] == 6


def test_rollback_row_version_mismatch_leaves_store_identical(run: Run, store: Path, five: str) -> None:
    """rollback --row-version other than the head's exits 4; the store stays byte-identical."""
    row = read_head(store, "f")["rowVersion"]
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "3", "--row-version", str(row - 1)), 4,
                 f"rowVersion {row}", f"not {row - 1}")
    assert tree_bytes(store) == before
    assert run.json("rollback", "f", "--version", "3", "--row-version", str(row))["currentVersion"] == 6


def test_rollback_without_notes(run: Run, five: str) -> None:
    """Without -m, the notes are exactly "Rollback to vN"."""
    run.json("rollback", "f", "--version", "2")
    assert run.json("show", "f", "--version", "6")["notes"] == "Rollback to v2"


def test_rollback_to_damaged_snapshot_is_integrity_error(run: Run, store: Path, five: str) -> None:
    """A snapshot whose config no longer matches its configSha256 is refused with exit 8."""
    path = flow_dir(store, "f") / "versions" / "000002.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["configSnapshot"]["nodes"][2]["config"]["topN"] = 99
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    before = tree_bytes(store)
    assert_error(run("rollback", "f", "--version", "2"), 8, "000002.json", "configSha256")
    assert tree_bytes(store) == before


@pytest.mark.parametrize("bad", ["0", "-1", "x", "v", "1.5"])
def test_rollback_bad_version_is_bad_input(run: Run, five: str, bad: str) -> None:
    """--version must be N or vN with N >= 1 (exit 2)."""
    assert_error(run("rollback", "f", "--version", bad), 2)


# -- publish -------------------------------------------------------------------


def test_publish_makes_version_active(run: Run, store: Path, tmp_path: Path) -> None:
    """publish snapshots the draft as v1, makes it active, bumps rowVersion; --json is the head."""
    run.json("create", "f", "--name", "F", "--status", "paused")
    set_draft(run, tmp_path, "f", scored(3))
    head = run.json("publish", "f", "-m", "first")
    assert list(head) == HEAD_FIELDS
    assert (head["status"], head["activeVersion"], head["latestVersion"], head["rowVersion"]) == (
        "active", 1, 1, 3)
    snap = run.json("show", "f", "--version", "1")
    assert list(snap) == SNAPSHOT_FIELDS
    assert snap["configSnapshot"] == scored(3) and snap["notes"] == "first"
    assert snap["source"] == {"action": "publish"}
    assert audit_lines(store, "f")[-1] == {"at": "2026-03-15T14:30:00.000Z", "actor": "tester",
                                           "action": "publish", "rowVersion": 3, "version": 1,
                                           "notes": "first"}


def test_publish_human_output_names_version(run: Run, tmp_path: Path) -> None:
    """The human publish line names the key and the version written."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    result = run("publish", "f")
    assert result.exit_code == 0
    assert "Published f v1" in result.stdout


def test_publish_equal_config_is_new_version(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """Publishing a draft equal to the active config still writes latest+1 (a deliberate re-release)."""
    publish_versions("f", 2)
    head = run.json("publish", "f", "-m", "again")
    assert (head["activeVersion"], head["latestVersion"]) == (3, 3)
    v2, v3 = run.json("show", "f", "--version", "2"), run.json("show", "f", "--version", "3")
    assert v3["configSnapshot"] == v2["configSnapshot"]
    assert v3["source"] == {"action": "publish"}


def test_publish_default_draft_has_no_scoring_method(run: Run, store: Path) -> None:
    """The default draft has no scoring method: publish exits 5 naming where it goes; nothing written."""
    run.json("create", "f", "--name", "F")
    before = tree_bytes(store)
    result = run("publish", "f")
    assert_error(result, 5, "no scoring method", "nodes[2].config.method")
    assert tree_bytes(store) == before


def test_publish_invalid_draft(run: Run, store: Path) -> None:
    """A stored draft that does not validate (edited by hand) cannot be published: exit 5, problems listed."""
    run.json("create", "f", "--name", "F")
    head_path = flow_dir(store, "f") / "flow.json"
    head = json.loads(head_path.read_text(encoding="utf-8"))
    bad = scored()
    bad["nodes"][2]["config"]["topN"] = -2
    head["draftConfig"] = bad
    head_path.write_text(json.dumps(head, indent=2) + "\n", encoding="utf-8")
    before = tree_bytes(store)
    assert_error(run("publish", "f"), 5, "draft is not valid", "nodes[2].config.topN: must be a positive integer (-2)")
    assert tree_bytes(store) == before


def test_publish_row_version_precondition(run: Run, store: Path, tmp_path: Path) -> None:
    """publish --row-version must match the head (exit 4, nothing written), then it succeeds."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    before = tree_bytes(store)
    assert_error(run("publish", "f", "--row-version", "2"), 4, "rowVersion 1", "not 2")
    assert tree_bytes(store) == before
    assert run.json("publish", "f", "--row-version", "1")["latestVersion"] == 1


def test_publish_missing_flow(run: Run) -> None:
    """Publishing a flow that does not exist exits 3."""
    assert_error(run("publish", "ghost"), 3, "'ghost'")


def test_stale_row_version_after_concurrent_update(run: Run, store: Path, tmp_path: Path) -> None:
    """A writer holding an old rowVersion is refused after someone else changed the flow."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    seen = run.json("show", "f")["rowVersion"]
    run.json("update", "f", "--description", "someone else")  # the other writer
    before = tree_bytes(store)
    assert_error(run("publish", "f", "--row-version", str(seen)), 4, f"not {seen}")
    assert_error(run("update", "f", "--name", "mine", "--row-version", str(seen)), 4)
    assert tree_bytes(store) == before


# -- dry runs --------------------------------------------------------------------


def test_publish_dry_run_writes_nothing(run: Run, store: Path, publish_versions: PublishVersions,
                                        tmp_path: Path) -> None:
    """publish --dry-run prints the version it would write and the diff; the store is unchanged."""
    publish_versions("f", 2)
    set_draft(run, tmp_path, "f", scored(9))
    before = tree_bytes(store)
    result = run("publish", "f", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "v3" in result.stdout and "nothing written" in result.stdout
    assert "topN" in result.stdout
    assert tree_bytes(store) == before
    body = run.json("publish", "f", "--dry-run")
    assert body["dryRun"] is True and body["version"] == 3
    assert tree_bytes(store) == before


def test_publish_dry_run_exits_as_real_run(run: Run, store: Path) -> None:
    """publish --dry-run of the default draft exits 5 like the real publish; --row-version mismatch 4."""
    run.json("create", "f", "--name", "F")
    before = tree_bytes(store)
    assert_error(run("publish", "f", "--dry-run"), 5, "no scoring method")
    assert_error(run("publish", "f", "--dry-run", "--row-version", "9"), 4)
    assert tree_bytes(store) == before


def test_rollback_dry_run(run: Run, store: Path, five: str) -> None:
    """rollback --dry-run names the version it would write and restore, writes nothing, exits as the real run."""
    before = tree_bytes(store)
    result = run("rollback", "f", "--version", "3", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "v6" in result.stdout and "Rollback to v3" in result.stdout
    body = run.json("rollback", "f", "--version", "3", "--dry-run")
    assert (body["dryRun"], body["version"], body["restoredVersion"]) == (True, 6, 3)
    assert tree_bytes(store) == before
    assert_error(run("rollback", "f", "--version", "5", "--dry-run"), 4, "already the active version")
    assert_error(run("rollback", "f", "--version", "9", "--dry-run"), 3)
    assert_error(run("rollback", "f", "--dry-run", "--expected-current-version", "2"), 4)
    assert tree_bytes(store) == before


# -- versions --------------------------------------------------------------------


def test_versions_json_shape(run: Run, store: Path, five: str) -> None:
    """versions --json is {"flowId", "versions"}, oldest first, items with exactly the six entry fields."""
    run.json("rollback", "f", "--version", "3")
    body = run.json("versions", "f")
    assert list(body) == ["flowId", "versions"]
    assert body["flowId"] == read_head(store, "f")["id"]
    assert [v["version"] for v in body["versions"]] == [1, 2, 3, 4, 5, 6]
    for item in body["versions"]:
        assert list(item) == ENTRY_FIELDS
        assert list(item["summary"]) == ["nodeCount", "scoringMethod"]
    assert body["versions"][0]["notes"] == "release 1"
    assert body["versions"][0]["summary"] == {"nodeCount": 4, "scoringMethod": "propensity"}
    assert body["versions"][5]["source"] == {"action": "rollback", "restoredVersion": 3, "previousVersion": 5}


def test_versions_human_table(run: Run, five: str) -> None:
    """The history table has VERSION..NOTES columns, `rollback of v3`, and marks the active version."""
    run.json("rollback", "f", "--version", "3")
    result = run("versions", "f")
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["VERSION", "PUBLISHED", "BY", "SOURCE", "NODES", "SCORING", "NOTES"]
    assert "rollback of v3" in " ".join(result.stdout.split())
    assert "v6 *" in result.stdout
    assert "v5 *" not in result.stdout


def test_versions_with_version_is_show(run: Run, five: str) -> None:
    """versions --version N prints that version's snapshot, like show --version N."""
    assert run.json("versions", "f", "--version", "4") == run.json("show", "f", "--version", "4")
    assert_error(run("versions", "f", "--version", "42"), 3, "no version 42")


def test_versions_of_unpublished_and_missing(run: Run) -> None:
    """An unpublished flow has an empty list; a missing flow exits 3."""
    flow_id = run.json("create", "f", "--name", "F")["id"]
    assert run.json("versions", "f") == {"flowId": flow_id, "versions": []}
    assert_error(run("versions", "ghost"), 3, "'ghost'")


# -- locking and concurrency -------------------------------------------------------


def test_write_waits_for_lock_then_busy(run: Run, store: Path, tmp_path: Path) -> None:
    """While another process holds the flow's lock, a write gives up after --lock-timeout with exit 7."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    lock_path = flow_dir(store, "f") / "flow.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = tree_bytes(store)
        assert_error(run("publish", "f", "--lock-timeout", "0.2"), 7, "busy", "--lock-timeout")
        assert_error(run("--lock-timeout", "0.1", "update", "f", "--name", "x"), 7)
        assert tree_bytes(store) == before
        assert run.json("show", "f")["rowVersion"] == 1  # readers take no lock
    finally:
        os.close(fd)
    assert run.json("publish", "f")["latestVersion"] == 1


def test_concurrent_publishes_lose_nothing(run: Run, store: Path, tmp_path: Path) -> None:
    """Five real processes publishing at once: versions 1..5 exactly, one audit line each, none lost."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(
            lambda i: run_process("--store", str(store), "publish", "f", "-m", f"p{i}"), range(5)))
    assert [r.returncode for r in results] == [0] * 5, [r.stderr for r in results]
    body = run.json("versions", "f")
    assert [v["version"] for v in body["versions"]] == [1, 2, 3, 4, 5]
    assert sorted(v["notes"] for v in body["versions"]) == [f"p{i}" for i in range(5)]
    head = read_head(store, "f")
    assert (head["latestVersion"], head["activeVersion"], head["rowVersion"]) == (5, 5, 6)
    publishes = [a for a in audit_lines(store, "f") if a["action"] == "publish"]
    assert sorted(a["version"] for a in publishes) == [1, 2, 3, 4, 5]


def test_concurrent_updates_with_same_row_version(run: Run, store: Path) -> None:
    """Several writers with the same --row-version: exactly one wins, the others exit 4."""
    run.json("create", "f", "--name", "F")
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(
            lambda i: run_process("--store", str(store), "update", "f", "--name", f"n{i}",
                                  "--row-version", "1"), range(3)))
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 4, 4], [r.stderr for r in results]
    head = read_head(store, "f")
    assert head["rowVersion"] == 2
    winner = next(i for i, r in enumerate(results) if r.returncode == 0)
    assert head["name"] == f"n{winner}"
    assert [a["action"] for a in audit_lines(store, "f")] == ["create", "update"]

"""`flowctl verify [FLOW] [--repair] [--json]`: every kind of damage is named,
with exit 8 and one line per problem; `--repair` does what is safe (completes
a half-finished publish forward, drops torn or uncommitted audit lines,
rebuilds the index, removes stray temp files) and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from flowctl import journal
from flowctl.store import Store

from conftest import PublishVersions, Run, scored, tree_bytes, write_config

FLOW = Path("flows/default/f")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class Crash(BaseException):
    """Stands for a kill in the middle of a write."""


def crash_after_commit(*args: Any) -> None:
    """journal._after_commit that dies first: a release cut right after its commit
    point (the snapshot linked, the head not yet replaced)."""
    raise Crash


@pytest.fixture
def damaged(run: Run, store: Path, publish_versions: PublishVersions) -> Path:
    """Flow f with v1..v4 and a clean witness g with v1..v2; returns f's directory."""
    publish_versions("f", 4)
    publish_versions("g", 2)
    assert run("verify").exit_code == 0
    return store / FLOW


def problems(run: Run, *args: str) -> tuple[int, list[dict[str, str]]]:
    """verify --json: (exit code, problems); the JSON shape is checked on the way."""
    result = run("verify", *args, "--json")
    assert "Traceback" not in result.output
    body = json.loads(result.stdout)
    assert list(body) == ["ok", "problems"]
    assert body["ok"] is (result.exit_code == 0) and body["ok"] is (body["problems"] == [])
    for problem in body["problems"]:
        assert list(problem) == ["flow", "path", "problem"]
        assert all(isinstance(value, str) for value in problem.values())
        assert not Path(problem["path"]).is_absolute() or not problem["path"].startswith(str(run.store))
    if result.exit_code:
        assert result.exit_code == 8, result.stderr
        assert json.loads(result.stderr)["error"]["code"] == "integrity"
    return result.exit_code, body["problems"]


def assert_named(run: Run, path: str, *fragments: str) -> list[dict[str, str]]:
    """verify exits 8 and names `path` with every fragment; the text output has
    one line per problem on stdout and one error line on stderr."""
    code, found = problems(run)
    assert code == 8
    matching = [p for p in found if p["path"] == path and all(f in p["problem"] for f in fragments)]
    assert matching, found
    text = run("verify")
    assert text.exit_code == 8
    assert len(text.stdout.splitlines()) == len(found)
    assert f"{path}: " in text.stdout
    assert text.stderr.startswith("flowctl: error: ") and text.stderr.count("\n") == 1
    assert "Traceback" not in text.output
    return found


def assert_clean(run: Run, *args: str) -> None:
    code, found = problems(run, *args)
    assert (code, found) == (0, [])


def everything(root: Path) -> dict[str, bytes | None]:
    """Every entry under `root`, lock files and directories included (None for a directory)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_bytes())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# clean stores
# --------------------------------------------------------------------------


def test_clean_store_exits_0_with_a_summary(run: Run, damaged: Path) -> None:
    """A clean store: exit 0, `ok:` line, JSON {"ok": true, "problems": []}."""
    result = run("verify")
    assert result.exit_code == 0
    assert result.stdout.startswith("ok: 2 flows verified")
    assert_clean(run)
    assert_clean(run, "f")


def test_empty_store_is_clean(run: Run) -> None:
    """A freshly initialised store with no flows verifies clean (exit 0, no problems)."""
    assert_clean(run)


def test_repair_of_a_clean_store_changes_nothing(run: Run, store: Path, damaged: Path) -> None:
    """`verify --repair` on an undamaged store exits 0 and leaves every byte of the store unchanged."""
    before = tree_bytes(store)
    assert run("verify", "--repair").exit_code == 0
    assert tree_bytes(store) == before


# --------------------------------------------------------------------------
# snapshots
# --------------------------------------------------------------------------


def test_flipped_byte_in_a_snapshot(run: Run, store: Path, damaged: Path) -> None:
    """One changed character of a config → checksum mismatch; --repair never
    "fixes" a snapshot (restore it from git), and rollback to it exits 8."""
    path = damaged / "versions" / "000002.json"
    raw = path.read_bytes()
    at = raw.rindex(b"propensity") + len(b"propensit")  # in configSnapshot, the last field
    flipped = raw[:at] + b"z" + raw[at + 1:]
    path.write_bytes(flipped)
    assert_named(run, "flows/default/f/versions/000002.json", "configSha256")
    code, found = problems(run, "--repair")
    assert code == 8 and any("configSha256" in p["problem"] for p in found)
    assert path.read_bytes() == flipped
    result = run("rollback", "f", "--version", "2")
    assert result.exit_code == 8 and "configSha256" in result.stderr


def test_byte_flip_that_breaks_the_json(run: Run, damaged: Path) -> None:
    """A snapshot whose first byte is corrupted is named as not valid JSON (exit 8)."""
    path = damaged / "versions" / "000001.json"
    raw = bytearray(path.read_bytes())
    raw[0] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert_named(run, "flows/default/f/versions/000001.json", "not valid JSON")


def test_deleted_snapshot_is_a_gap(run: Run, damaged: Path) -> None:
    """A deleted snapshot is named as missing, a gap in 1..latest, for its flow only; reading it
    exits 8 and --repair cannot recreate it."""
    (damaged / "versions" / "000002.json").unlink()
    found = assert_named(run, "flows/default/f/versions/000002.json", "missing", "gap in 1..4")
    assert {p["flow"] for p in found} == {"f"}
    assert run("show", "f", "--version", "2").exit_code == 8
    assert problems(run, "--repair")[0] == 8  # nothing to rebuild it from


def test_half_finished_publish_is_completed_by_repair(run: Run, store: Path, damaged: Path,
                                                        tmp_path: Path) -> None:
    """A publish cut after its snapshot's link (head and index not written):
    readers already show v5; verify names it; --repair completes it forward
    into exactly what an uncut publish writes."""
    cfg = write_config(tmp_path / "c5.json", scored(top_n=50))
    assert run("update", "f", "--config", cfg).exit_code == 0
    uncut = tmp_path / "uncut"
    shutil.copytree(store, uncut)
    assert Run(uncut)("publish", "f", "-m", "five").exit_code == 0

    with mock.patch.object(journal, "_after_commit", crash_after_commit), pytest.raises(Crash):
        from flowctl.flows import Flows

        Flows(Store.open(store), "default", "tester").publish("f", notes="five")
    assert json.loads((damaged / "flow.json").read_bytes())["latestVersion"] == 4
    assert run.json("show", "f")["latestVersion"] == 5  # readers complete it
    assert [v["version"] for v in run.json("versions", "f")["versions"]] == [1, 2, 3, 4, 5]
    found = assert_named(run, "flows/default/f/versions/000005.json", "half-finished publish of v5", "--repair")
    assert any("uncommitted" in p["problem"] or "newer than the head" in p["problem"] for p in found)
    assert_clean(run, "--repair")
    assert_clean(run)
    assert tree_bytes(store) == tree_bytes(uncut)


def test_half_finished_publish_is_completed_by_the_next_write(run: Run, store: Path, damaged: Path) -> None:
    """The next write on the flow completes the cut-off release before its own."""
    from flowctl.flows import Flows

    with mock.patch.object(journal, "_after_commit", crash_after_commit), pytest.raises(Crash):
        Flows(Store.open(store), "default", "tester").rollback("f", version=1)
    assert run("update", "f", "--name", "next").exit_code == 0
    assert_clean(run)
    head = run.json("show", "f")
    assert (head["latestVersion"], head["activeVersion"], head["name"]) == (5, 5, "next")


def test_snapshot_far_beyond_latest(run: Run, damaged: Path) -> None:
    """A snapshot with a number past latest+1 is not a half-finished publish: named, not repaired."""
    shutil.copy(damaged / "versions" / "000001.json", damaged / "versions" / "000009.json")
    assert_named(run, "flows/default/f/versions/000009.json", "beyond latestVersion 4")
    assert problems(run, "--repair")[0] == 8
    assert (damaged / "versions" / "000009.json").exists()


def test_snapshot_that_names_another_version(run: Run, damaged: Path) -> None:
    """A snapshot whose `version` field disagrees with its file name is named."""
    edit_json(damaged / "versions" / "000003.json", version=2)
    assert_named(run, "flows/default/f/versions/000003.json", "says version 2")


def test_unexpected_file_in_versions(run: Run, damaged: Path) -> None:
    """A file in versions/ that is not a snapshot is named as unexpected."""
    (damaged / "versions" / "notes.txt").write_text("hello\n")
    assert_named(run, "flows/default/f/versions/notes.txt", "unexpected file")


def test_git_merge_conflict_in_a_snapshot(run: Run, damaged: Path) -> None:
    """Conflict markers in versions/000004.json → unreadable, a merge conflict is suggested."""
    path = damaged / "versions" / "000004.json"
    original = path.read_text(encoding="utf-8")
    path.write_text(f"<<<<<<< HEAD\n{original}=======\n{original.replace('4', '5')}>>>>>>> other\n",
                    encoding="utf-8")
    assert_named(run, "flows/default/f/versions/000004.json", "not valid JSON", "merge conflict")
    assert run("show", "f", "--version", "4").exit_code == 8


def test_git_merge_conflict_in_the_head_and_audit(run: Run, damaged: Path) -> None:
    """Merge-conflict markers in flow.json (and audit.jsonl) make the head not valid JSON: named
    under flow f, and `show` exits 8."""
    head = damaged / "flow.json"
    head.write_text("<<<<<<< HEAD\n" + head.read_text(encoding="utf-8") + "=======\n>>>>>>> other\n")
    audit = damaged / "audit.jsonl"
    audit.write_text("<<<<<<< HEAD\n" + audit.read_text(encoding="utf-8") + ">>>>>>> other\n")
    found = assert_named(run, "flows/default/f/flow.json", "not valid JSON")
    assert all(p["flow"] == "f" for p in found)
    assert run("show", "f").exit_code == 8


# --------------------------------------------------------------------------
# the head
# --------------------------------------------------------------------------


def test_head_with_latest_version_beyond_the_snapshots(run: Run, damaged: Path) -> None:
    """A head whose latestVersion runs past the snapshots names the missing range, the index and
    the missing audit release lines."""
    edit_json(damaged / "flow.json", latestVersion=6)
    found = assert_named(run, "flows/default/f/versions/000005.json", "versions 5..6 are missing", "gap in 1..6")
    assert any(p["path"] == "flows/default/f/versions.jsonl" for p in found)
    assert any("no publish/rollback line for v5, v6" in p["problem"] for p in found)


def test_head_with_active_version_out_of_range(run: Run, damaged: Path) -> None:
    """An activeVersion above latestVersion, or 0, is named as not a published version."""
    edit_json(damaged / "flow.json", activeVersion=7)
    assert_named(run, "flows/default/f/flow.json", "activeVersion 7 is not a published version")
    edit_json(damaged / "flow.json", activeVersion=0)
    assert_named(run, "flows/default/f/flow.json", "activeVersion 0")


def test_head_active_without_a_release(run: Run, damaged: Path) -> None:
    """A null activeVersion on a flow that has releases is named."""
    edit_json(damaged / "flow.json", activeVersion=None)
    assert_named(run, "flows/default/f/flow.json", "activeVersion is null")


def test_head_with_fields_of_the_wrong_type(run: Run, damaged: Path) -> None:
    """Hand edits that change types are named, and verify does not crash on them."""
    edit_json(damaged / "flow.json", rowVersion="9", status=3, activeVersion="2", draftConfig=[])
    found = assert_named(run, "flows/default/f/flow.json", "rowVersion")
    assert any("status" in p["problem"] for p in found)


def test_head_that_is_not_an_object(run: Run, damaged: Path) -> None:
    """A flow.json holding valid JSON that is not an object is named as not a flow head."""
    (damaged / "flow.json").write_text("[1, 2]\n")
    assert_named(run, "flows/default/f/flow.json", "not a flow head")


def test_head_with_a_huge_latest_version(run: Run, damaged: Path) -> None:
    """A hand-edited latestVersion of 10**12 is reported quickly, not enumerated."""
    edit_json(damaged / "flow.json", latestVersion=10**12)
    found = assert_named(run, "flows/default/f/versions/000005.json", "versions 5..1000000000000 are missing")
    assert len(found) < 10
    assert run("show", "f", "--version", "7").exit_code == 8
    assert run("versions", "f").exit_code == 8
    assert problems(run, "--repair")[0] == 8


def test_head_field_order(run: Run, damaged: Path) -> None:
    """A head with its fields out of contract order is named (the on-disk format fixes the order)."""
    head = json.loads((damaged / "flow.json").read_bytes())
    reordered = dict(reversed(list(head.items())))
    (damaged / "flow.json").write_text(json.dumps(reordered, indent=2) + "\n")
    assert_named(run, "flows/default/f/flow.json", "in that order")


def test_head_of_another_flow(run: Run, store: Path, damaged: Path) -> None:
    """A head copied from flow g into f's directory: key and snapshots disagree."""
    shutil.copy(store / "flows/default/g/flow.json", damaged / "flow.json")
    assert_named(run, "flows/default/f/flow.json", "key/tenantId")


# --------------------------------------------------------------------------
# the audit log
# --------------------------------------------------------------------------


def test_torn_audit_line_is_named_and_repaired(run: Run, store: Path, damaged: Path) -> None:
    """A torn last audit line is named, and --repair drops it, restoring the log byte for byte."""
    audit = damaged / "audit.jsonl"
    original = audit.read_bytes()
    audit.write_bytes(original + b'{"at":"2026-03-15T14:3')
    assert_named(run, "flows/default/f/audit.jsonl", "torn")
    assert_clean(run, "--repair")
    assert audit.read_bytes() == original


def test_truncated_audit_log_loses_release_lines(run: Run, damaged: Path) -> None:
    """An audit log cut in the middle of a line: torn, and the later releases lack lines."""
    audit = damaged / "audit.jsonl"
    raw = audit.read_bytes()
    audit.write_bytes(raw[: len(raw) // 2])
    found = assert_named(run, "flows/default/f/audit.jsonl", "torn")
    assert any("no publish/rollback line for" in p["problem"] for p in found)
    code, after = problems(run, "--repair")
    assert code == 8 and any("no publish/rollback line" in p["problem"] for p in after)  # history is not invented


def test_audit_line_that_is_not_json(run: Run, damaged: Path) -> None:
    """An audit line that is not JSON is named with its 1-based line number."""
    audit = damaged / "audit.jsonl"
    lines = audit.read_bytes().splitlines(keepends=True)
    lines[1] = b"this is not json\n"
    audit.write_bytes(b"".join(lines))
    assert_named(run, "flows/default/f/audit.jsonl", "line 2 is not valid JSON")


@pytest.mark.parametrize("line", [
    b'[1, 2, 3]\n',
    b'{"actor": "x"}\n',
    b'{"at": "t", "actor": "a", "action": "publish", "rowVersion": 99, "version": [1]}\n',
    b'{"at": "t", "actor": "a", "action": ["publish"], "rowVersion": "x"}\n',
    b'{"at": {}, "actor": null, "action": "rollback", "rowVersion": 1e400, "version": {"a": 1}}\n',
])
def test_audit_lines_of_the_wrong_shape(run: Run, damaged: Path, line: bytes) -> None:
    """Hand-made audit lines of any shape are named, never a crash (exit 70)."""
    audit = damaged / "audit.jsonl"
    audit.write_bytes(audit.read_bytes() + line)
    assert_named(run, "flows/default/f/audit.jsonl")
    for args in (["history", "f"], ["show", "f"], ["update", "f", "--name", "x"], ["publish", "f"],
                 ["verify", "--repair"]):
        result = run(*args)
        assert result.exit_code in (0, 8), (args, result.exit_code, result.output)
        assert "internal error" not in result.output and "Traceback" not in result.output


def test_uncommitted_audit_line_is_dropped_by_repair(run: Run, store: Path, damaged: Path) -> None:
    """An update cut after its audit line, before the head: named; --repair drops it."""
    from flowctl.flows import Flows

    audit = damaged / "audit.jsonl"
    original = audit.read_bytes()
    # Killed just before the head's rename: a kill runs no handler, so nothing is taken back.
    with mock.patch.object(journal._Transaction, "commit", side_effect=Crash), \
            mock.patch.object(journal._Transaction, "__exit__", lambda *a: None), pytest.raises(Crash):
        Flows(Store.open(store), "default", "tester").update("f", name="never")
    assert audit.read_bytes() != original
    assert run.json("show", "f")["name"] == "f"
    assert_named(run, "flows/default/f/audit.jsonl", "newer than the head", "--repair")
    assert_clean(run, "--repair")
    assert audit.read_bytes() == original


def test_missing_audit_log(run: Run, damaged: Path) -> None:
    """A deleted audit log is named as missing or empty."""
    (damaged / "audit.jsonl").unlink()
    assert_named(run, "flows/default/f/audit.jsonl", "missing or empty")


# --------------------------------------------------------------------------
# the derived index
# --------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "truncated", "torn", "garbage", "short", "long"])
def test_damaged_index_is_rebuilt_byte_identical(run: Run, store: Path, damaged: Path, damage: str) -> None:
    """Any damage to versions.jsonl is named, readers still use the snapshots, and --repair rebuilds
    the index byte-identical."""
    index = damaged / "versions.jsonl"
    original = index.read_bytes()
    lines = original.splitlines(keepends=True)
    if damage == "missing":
        index.unlink()
    elif damage == "truncated":
        index.write_bytes(original[: len(original) // 3])
    elif damage == "torn":
        index.write_bytes(original[:-1])
    elif damage == "garbage":
        index.write_bytes(b"".join(lines[:2]) + b"\x00\xff garbage\n" + b"".join(lines[3:]))
    elif damage == "short":
        index.write_bytes(b"".join(lines[:2]))
    else:
        index.write_bytes(original + lines[0])
    assert_named(run, "flows/default/f/versions.jsonl")
    # readers do not depend on it: the snapshots are the truth
    assert [v["version"] for v in run.json("versions", "f")["versions"]] == [1, 2, 3, 4]
    assert_clean(run, "--repair")
    assert index.read_bytes() == original


# --------------------------------------------------------------------------
# stray files and symlinks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("where", [
    "flows/default/f/.flow.json.tmp-123-0123abcd",
    "flows/default/f/versions/.000005.json.tmp-123-0123abcd",
    "flows/default/f/.versions.jsonl.tmp-9-ffffffff",
    "flows/default/.h.tmp-123-0123abcd/",
    "flows/default/.f.tmp-deleted-123-0123abcd/",
])
def test_flowctls_temp_files_are_named_and_removed(run: Run, store: Path, damaged: Path, where: str) -> None:
    """A temp file or staging directory by flowctl's exact name (and, for a
    directory, holding only a flow's files): named, and removed by --repair."""
    before = tree_bytes(store)
    path = store / where
    if where.endswith("/"):
        (path / "versions").mkdir(parents=True)
        (path / "flow.json").write_text("{}\n")
        (path / "versions" / "000001.json").write_text("{}\n")
    else:
        path.write_text("partial")
    found = assert_named(run, where.rstrip("/"), "--repair")
    assert len(found) == 1
    assert_clean(run, "--repair")
    assert not path.exists()
    assert tree_bytes(store) == before


@pytest.mark.parametrize("where", [
    ".tmp/notes.txt",  # a user's scratch directory at the store root
    ".cache.tmp/x",
    ".flowctl.toml.tmp-1-2",  # init's, outside any flow: not verify's business
    "flows/default/.tmp/keep.txt",
    "flows/default/.f.tmp-123-0123abcd/my-notes.txt",  # flowctl's name, someone else's file
    "flows/default/f/.flow.json.tmp-mine",  # not flowctl's exact pattern
    "flows/default/f/.notes.tmp",
])
def test_repair_never_removes_what_flowctl_did_not_make(run: Run, store: Path, damaged: Path, where: str) -> None:
    """--repair removes only flowctl's exact temp names inside flow directories, and
    a staging directory only when it holds nothing but a flow's files: a user's
    `.tmp/` or look-alike is left where it is, whatever verify says of it."""
    path = store / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("mine\n")
    code, found = problems(run, "--repair")
    assert path.read_text() == "mine\n"
    assert all("--repair" not in p["problem"] for p in found), found
    assert code == (8 if found else 0)


def test_symlink_out_of_the_store(run: Run, store: Path, damaged: Path, tmp_path: Path) -> None:
    """A symlink leading out of the store is named; --repair leaves it for a person and writes nothing
    through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (damaged / "elsewhere").symlink_to(outside)
    assert_named(run, "flows/default/f/elsewhere", "symlink leading out of the store")
    assert problems(run, "--repair")[0] == 8  # a person removes it
    assert list(outside.iterdir()) == []
    assert (damaged / "elsewhere").is_symlink()


def test_symlinked_flow_directory_out_of_the_store(run: Run, store: Path, damaged: Path, tmp_path: Path) -> None:
    """A flow directory that is a symlink leading outside: named by verify; --repair
    still repairs the other flows and writes nothing outside."""
    outside = tmp_path / "outside"
    shutil.copytree(store / "flows/default/g", outside)
    before_outside = everything(outside)
    (store / "flows/default/evil").symlink_to(outside, target_is_directory=True)
    torn = store / "flows/default/g/audit.jsonl"
    original = torn.read_bytes()
    torn.write_bytes(original + b'{"at')
    assert_named(run, "flows/default/evil", "symlink leading out of the store")
    code, found = problems(run, "--repair")
    assert code == 8 and [p["flow"] for p in found] == ["evil"]
    assert torn.read_bytes() == original  # g was repaired all the same
    assert everything(outside) == before_outside  # not even a lock file was made there
    assert run("show", "evil").exit_code == 8


def test_symlink_loop_inside_a_flow(run: Run, damaged: Path) -> None:
    """A symlink loop inside a flow directory is named under that flow, without hanging or crashing."""
    (damaged / "loop").symlink_to(damaged / "loop")
    found = assert_named(run, "flows/default/f/loop")
    assert all(p["flow"] == "f" for p in found)


@pytest.mark.parametrize("name", ["flow.json", "audit.jsonl", "versions.jsonl", "versions", "flow.lock",
                                  "versions/000001.json"])
def test_store_file_replaced_by_a_symlink_out_of_the_store(run: Run, store: Path, damaged: Path, tmp_path: Path,
                                                           name: str) -> None:
    """Any file of a flow moved outside and replaced by a symlink: verify names
    it, no command writes (or follows the link to read) outside, none crashes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / Path(name).name
    shutil.move(str(damaged / name), target)
    (damaged / name).symlink_to(target, target_is_directory=target.is_dir())
    before_outside = everything(outside)
    assert_named(run, f"flows/default/f/{name}", "symlink")
    for args in (["publish", "f"], ["update", "f", "--name", "x"], ["rollback", "f", "--version", "1"],
                 ["verify", "--repair"], ["show", "f"], ["versions", "f"], ["show", "f", "--version", "1"],
                 ["history", "f"], ["export", "f"], ["delete", "f", "--yes"]):
        result = run(*args)
        assert result.exit_code in (0, 8), (args, result.exit_code, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output)
    assert everything(outside) == before_outside


# --------------------------------------------------------------------------
# scope and output
# --------------------------------------------------------------------------


def test_verify_one_flow(run: Run, store: Path, damaged: Path) -> None:
    """`verify g` checks g only: f's damage is not reported; an unknown flow exits 3."""
    (damaged / "versions" / "000001.json").unlink()
    assert_clean(run, "g")
    code, found = problems(run, "f")
    assert code == 8 and {p["flow"] for p in found} == {"f"}
    assert run("verify", "nope").exit_code == 3


def test_repair_one_flow_leaves_the_others(run: Run, store: Path, damaged: Path) -> None:
    """`verify f --repair` repairs f only: damage in g stays and is still reported."""
    g_audit = store / "flows/default/g/audit.jsonl"
    f_audit = damaged / "audit.jsonl"
    g_audit.write_bytes(g_audit.read_bytes() + b"{")
    f_audit.write_bytes(f_audit.read_bytes() + b"{")
    assert_clean(run, "f", "--repair")
    assert g_audit.read_bytes().endswith(b"{")
    assert problems(run)[0] == 8


def test_every_problem_is_listed_not_only_the_first(run: Run, store: Path, damaged: Path) -> None:
    """verify lists every problem across flows and files, not just the first one found."""
    (damaged / "versions" / "000001.json").unlink()
    (damaged / "versions.jsonl").unlink()
    (store / "flows/default/g/audit.jsonl").write_bytes(b"")
    code, found = problems(run)
    assert code == 8
    assert {p["path"] for p in found} >= {"flows/default/f/versions/000001.json", "flows/default/f/versions.jsonl",
                                           "flows/default/g/audit.jsonl"}


def test_progress_bar_for_large_stores(run: Run, store: Path, damaged: Path) -> None:
    """On a terminal, a store with many snapshots gets a (transient) rich progress bar."""
    from flowctl import verify
    from flowctl.cli import inspect_commands
    from flowctl.verify import Verifier

    advanced: list[int] = []
    bar = inspect_commands._ProgressBar()
    with mock.patch.object(Verifier, "snapshot_count", return_value=5000), \
            mock.patch("rich.progress.Progress.advance", lambda self, task, done: advanced.append(done)):
        keys, findings = verify.run(Store.open(store), "default", progress=bar.start)
        bar.stop()
    assert (keys, findings) == (["f", "g"], [])
    assert sum(advanced) == 6  # one tick per snapshot checked


def test_verify_in_other_tenant_sees_nothing_of_default(run: Run, damaged: Path) -> None:
    """verify under another tenant does not look at (or report) the default tenant's damage."""
    (damaged / "versions" / "000001.json").unlink()
    assert_clean(run, "--tenant", "other")


def test_verify_writes_nothing_without_repair(run: Run, store: Path, damaged: Path) -> None:
    """Without --repair, verify changes nothing: the store's bytes and a stray temp file stay as they were."""
    (damaged / "versions.jsonl").unlink()
    (damaged / ".flow.json.tmp-1-2").write_text("x")
    before = tree_bytes(store)
    assert problems(run)[0] == 8
    assert tree_bytes(store) == before
    assert os.path.exists(damaged / ".flow.json.tmp-1-2")


@pytest.mark.parametrize("name", ["flow.json", "audit.jsonl", "versions.jsonl", "versions/000002.json"])
def test_deeply_nested_garbage_in_a_store_file(run: Run, store: Path, damaged: Path, name: str) -> None:
    """A file replaced by 100,000 nested brackets (past the JSON parser's recursion
    limit): every command reports it with exit 8 or works around it, none crashes."""
    path = damaged / name
    path.write_bytes(b"[" * 100_000 + b"\n")
    code, found = problems(run)
    assert code == 8 and any(p["path"] == f"flows/default/f/{name}" for p in found), found
    for args in (["show", "f"], ["versions", "f"], ["show", "f", "--version", "2"], ["list"], ["history", "f"],
                 ["publish", "f"], ["update", "f", "--name", "x"], ["verify", "--repair"]):
        result = run(*args)
        assert result.exit_code in (0, 8), (args, result.exit_code, result.output)
        assert "internal error" not in result.output and "Traceback" not in result.output


def test_a_write_in_flight_is_not_a_problem(run: Run, store: Path, damaged: Path) -> None:
    """While a writer holds the flow's lock mid-publish (snapshot linked, head not yet
    replaced), verify waits for the lock instead of reporting a half-finished publish;
    a crash-left one (nobody holds the lock) is reported at once."""
    import fcntl
    import threading

    from flowctl.flows import Flows

    with mock.patch.object(journal, "_after_commit", crash_after_commit), pytest.raises(Crash):
        Flows(Store.open(store), "default", "tester").publish("f")
    # Now "in flight": hold the lock as the writer would, finish the write in 0.5 s.
    fd = os.open(damaged / "flow.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def finish() -> None:
        import time

        time.sleep(0.5)
        journal.recover(Store.open(store).flow_files("default", "f"))
        os.close(fd)

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert_clean(run)
    finally:
        writer.join()

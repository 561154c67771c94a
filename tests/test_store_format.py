"""The files on disk: layout, field order, bytes, immutability, index, audit (docs/contract.md §1, §3, §4)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowctl.cli.app import app
from flowctl.store import FlowFiles

from conftest import (
    ENTRY_FIELDS,
    HEAD_FIELDS,
    SNAPSHOT_FIELDS,
    Run,
    audit_lines,
    flow_dir,
    scored,
    tree_bytes,
    write_config,
)

AUDIT_OPTIONAL = ["version", "restoredVersion", "previousVersion", "notes", "changes"]
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")


# -- local helpers -------------------------------------------------------------


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def canonical_sha256(config: Any) -> str:
    """docs/contract.md §3's configSha256, computed independently of flowctl."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assert_pretty(path: Path) -> Any:
    """The file is UTF-8 JSON with 2-space indent and exactly one trailing newline; returns it parsed."""
    raw = path.read_bytes()
    data = json.loads(raw.decode("utf-8"))
    assert raw == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), path
    assert raw.endswith(b"\n") and not raw.endswith(b"\n\n")
    return data


def build(run: Run, tmp_path: Path) -> None:
    """A fixed sequence of commands touching every kind of file."""
    cfg = {i: write_config(tmp_path / f"cfg{i}.json", scored(i)) for i in (1, 2, 3)}
    assert run("create", "alpha", "--name", "Alpha", "--config", cfg[1]).exit_code == 0
    assert run("publish", "alpha", "-m", "first").exit_code == 0
    assert run("update", "alpha", "--config", cfg[2], "--description", "d").exit_code == 0
    assert run("publish", "alpha").exit_code == 0
    assert run("rollback", "alpha", "-m", "undo").exit_code == 0
    assert run("create", "beta", "--name", "Beta", "--tenant", "other").exit_code == 0
    assert run("create", "gamma", "--name", "Gamma", "--config", cfg[3]).exit_code == 0


# -- layout --------------------------------------------------------------------


def test_layout_of_a_published_flow(run: Run, store: Path, tmp_path: Path) -> None:
    """flows/<tenant>/<key>/ holds flow.json, versions/000001.json…, audit.jsonl (+ derived index, lock)."""
    build(run, tmp_path)
    alpha = flow_dir(store, "alpha")
    assert sorted(p.name for p in (alpha / "versions").iterdir()) == ["000001.json", "000002.json", "000003.json"]
    assert {p.name for p in alpha.iterdir()} <= {"flow.json", "versions", "audit.jsonl", "versions.jsonl",
                                                 "flow.lock"}
    assert {"flow.json", "versions", "audit.jsonl"} <= {p.name for p in alpha.iterdir()}
    assert (store / "flows" / "other" / "beta" / "flow.json").is_file()
    assert sorted(p.name for p in (flow_dir(store, "gamma") / "versions").iterdir()) == []
    leftovers = [p for p in store.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_snapshot_names_are_zero_padded_to_six_digits() -> None:
    """Snapshot names are the version zero-padded to 6 digits, wider past 999999."""
    files = FlowFiles(Path("/s/flows/default/f"))
    assert files.snapshot(1).name == "000001.json"
    assert files.snapshot(42).name == "000042.json"
    assert files.snapshot(999999).name == "999999.json"
    assert files.snapshot(1234567).name == "1234567.json"


def test_settings_file(store: Path) -> None:
    """flowctl.toml holds format = 1 and default_tenant = "default"."""
    text = (store / "flowctl.toml").read_text(encoding="utf-8")
    assert "format = 1" in text.splitlines()
    assert 'default_tenant = "default"' in text.splitlines()


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_gitignore_covers_locks_and_temp_files(run: Run, store: Path, tmp_path: Path) -> None:
    """init's .gitignore makes git ignore every lock file and temp file, and nothing else."""
    build(run, tmp_path)
    ignored = [
        "flows/default/alpha/flow.lock",
        "flows/default/.tenant.lock",
        "flows/default/alpha/.flow.json.tmp-123-abcd",
        "flows/default/alpha/versions/.000004.json.tmp-1-ff",
        "flows/default/.alpha.tmp-99-0011/flow.json",
        "flows/default/alpha/.audit.jsonl.tmp-1-aa",
        ".flowctl.toml.tmp-5-bb",
    ]
    kept = ["flowctl.toml", ".gitignore", "flows/default/alpha/flow.json",
            "flows/default/alpha/versions/000001.json", "flows/default/alpha/audit.jsonl",
            "flows/default/alpha/versions.jsonl"]
    for rel in ignored:
        (store / rel).parent.mkdir(parents=True, exist_ok=True)
        (store / rel).touch()
    subprocess.run(["git", "init", "-q", str(store)], check=True)
    check = subprocess.run(["git", "-C", str(store), "check-ignore", "--no-index", *ignored, *kept],
                           capture_output=True, text=True)
    assert sorted(check.stdout.split()) == sorted(ignored), check.stdout


def test_init_keeps_existing_gitignore_lines(tmp_path: Path) -> None:
    """init in a directory with a .gitignore appends its lines and keeps the user's."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".gitignore").write_text("node_modules/", encoding="utf-8")
    assert CliRunner().invoke(app, ["init", str(tmp_path / "repo")]).exit_code == 0
    lines = (tmp_path / "repo" / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "node_modules/"
    assert any("lock" in line for line in lines[1:]) and any(".tmp" in line for line in lines[1:])


# -- records ---------------------------------------------------------------------


def test_head_file_format(run: Run, store: Path, tmp_path: Path) -> None:
    """flow.json: pretty UTF-8 JSON, fields in docs/contract.md §3 order, equal to show --json."""
    build(run, tmp_path)
    head = assert_pretty(flow_dir(store, "alpha") / "flow.json")
    assert list(head) == HEAD_FIELDS
    assert head == run.json("show", "alpha")
    assert (head["activeVersion"], head["latestVersion"], head["status"]) == (3, 3, "active")


def test_snapshot_file_format(run: Run, store: Path, tmp_path: Path) -> None:
    """A snapshot: fields in order, configSha256 = sha256 of compact canonical JSON, summary, source."""
    build(run, tmp_path)
    head = load(flow_dir(store, "alpha") / "flow.json")
    for version in (1, 2, 3):
        snap = assert_pretty(flow_dir(store, "alpha") / "versions" / f"{version:06d}.json")
        assert list(snap) == SNAPSHOT_FIELDS
        assert (snap["flowId"], snap["tenantId"], snap["key"], snap["version"]) == (
            head["id"], "default", "alpha", version)
        assert snap["configSha256"] == canonical_sha256(snap["configSnapshot"])
        assert re.fullmatch(r"[0-9a-f]{64}", snap["configSha256"])
        assert snap["summary"] == {"nodeCount": 4, "scoringMethod": "propensity"}
        assert list(snap["summary"]) == ["nodeCount", "scoringMethod"]
        assert snap["publishedBy"] == "tester" and STAMP.match(snap["publishedAt"])
    v3 = load(flow_dir(store, "alpha") / "versions" / "000003.json")
    assert v3["source"] == {"action": "rollback", "restoredVersion": 1, "previousVersion": 2}
    assert v3["notes"] == "Rollback to v1: undo"
    assert load(flow_dir(store, "alpha") / "versions" / "000001.json")["source"] == {"action": "publish"}


def test_config_key_order_and_unicode_kept(run: Run, store: Path, tmp_path: Path) -> None:
    """Config objects keep the user's key order (no sorting) and non-ASCII text is stored as UTF-8."""
    config = {"nodes": [{"type": "score", "id": "s", "config": {"zeta": 1, "method": "prop\u00e9", "alpha": 2}},
                        {"config": {"topN": 2}, "id": "r", "type": "rank"}],
              "version": 2, "stages": {"b": {}, "a": {}}}
    run.json("create", "f", "--name", "Caf\u00e9 \u2713", "--config", write_config(tmp_path / "c.json", config))
    run.json("publish", "f", "-m", "na\u00efve \u2713")
    head_raw = (flow_dir(store, "f") / "flow.json").read_text(encoding="utf-8")
    snap_raw = (flow_dir(store, "f") / "versions" / "000001.json").read_text(encoding="utf-8")
    for raw in (head_raw, snap_raw):
        assert "\\u" not in raw
        assert raw.index('"zeta"') < raw.index('"method"') < raw.index('"alpha"')
        assert raw.index('"nodes"') < raw.index('"stages"')
    assert "Caf\u00e9 \u2713" in head_raw and "na\u00efve \u2713" in snap_raw
    snap = load(flow_dir(store, "f") / "versions" / "000001.json")
    assert list(snap["configSnapshot"]) == ["nodes", "version", "stages"]
    assert snap["configSha256"] == canonical_sha256(config)
    assert snap["summary"] == {"nodeCount": 2, "scoringMethod": "prop\u00e9"}


@pytest.mark.parametrize(("config", "summary"), [
    ({"stages": {"scoring": {"method": "logit"}, "ranking": {}, "enrichment": {}}},
     {"nodeCount": 3, "scoringMethod": "logit"}),
    ({"version": 2, "nodes": [{"id": "a", "type": "score", "config": {"method": "late"}},
                              {"id": "b", "type": "score", "data": {"method": "early"}}],
      "edges": [{"source": "b", "target": "a"}]},
     {"nodeCount": 2, "scoringMethod": "early"}),
    ({"version": 2, "nodes": [{"id": "a", "type": "score", "config": {"method": "first"}},
                              {"id": "b", "type": "score", "config": {"method": "second"}}]},
     {"nodeCount": 2, "scoringMethod": "first"}),
    ({"version": 2, "nodes": [{"id": "a", "type": "score", "config": {}}],
      "stages": {"scoring": {"method": "fallback"}}},
     {"nodeCount": 1, "scoringMethod": "fallback"}),
])
def test_summary_of_published_configs(run: Run, tmp_path: Path, config: dict[str, Any],
                                      summary: dict[str, Any]) -> None:
    """summary: v1 counts known stages; v2 counts nodes and takes the first score node in pipeline order."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", config))
    run.json("publish", "f")
    assert run.json("show", "f", "--version", "1")["summary"] == summary
    assert run.json("versions", "f")["versions"][0]["summary"] == summary


# -- audit -----------------------------------------------------------------------


def test_audit_lines(run: Run, store: Path, tmp_path: Path) -> None:
    """audit.jsonl: one JSON object per line, at/actor/action/rowVersion first, then what applies, in order."""
    build(run, tmp_path)
    raw = (flow_dir(store, "alpha") / "audit.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    entries = audit_lines(store, "alpha")
    assert [e["action"] for e in entries] == ["create", "publish", "update", "publish", "rollback"]
    assert [e["rowVersion"] for e in entries] == [1, 2, 3, 4, 5]
    for entry in entries:
        assert list(entry)[:4] == ["at", "actor", "action", "rowVersion"]
        extra = list(entry)[4:]
        assert extra == [f for f in AUDIT_OPTIONAL if f in extra]
        assert STAMP.match(entry["at"]) and entry["actor"] == "tester"
    assert entries[0] == {"at": "2026-03-15T14:30:00.000Z", "actor": "tester", "action": "create", "rowVersion": 1}
    assert entries[1]["version"] == 1 and entries[1]["notes"] == "first"
    assert entries[2]["changes"] == ["description", "draftConfig"]
    assert {k: entries[4][k] for k in ("version", "restoredVersion", "previousVersion", "notes")} == {
        "version": 3, "restoredVersion": 1, "previousVersion": 2, "notes": "Rollback to v1: undo"}
    head = load(flow_dir(store, "alpha") / "flow.json")
    assert entries[-1]["rowVersion"] == head["rowVersion"]


# -- immutability and growth ----------------------------------------------------------


def test_snapshots_are_never_rewritten(run: Run, store: Path, tmp_path: Path) -> None:
    """Later publishes, updates and rollbacks leave every earlier snapshot's bytes and inode as they were."""
    build(run, tmp_path)
    versions = flow_dir(store, "alpha") / "versions"
    before = {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) for p in versions.iterdir()}
    run.json("update", "alpha", "--name", "renamed")
    run.json("publish", "alpha")
    run.json("rollback", "alpha", "--version", "2")
    run.json("update", "alpha", "--status", "paused")
    after = {p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) for p in versions.iterdir()}
    assert {name: after[name] for name in before} == before
    assert sorted(after) == [f"{v:06d}.json" for v in range(1, 6)]


def test_head_does_not_grow_with_history(run: Run, store: Path, tmp_path: Path) -> None:
    """flow.json holds no list of versions: after 30 publishes it is as big as after 3 (bar wider numbers)."""
    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    head_path = flow_dir(store, "f") / "flow.json"
    sizes = {}
    for n in range(1, 31):
        assert run("publish", "f").exit_code == 0
        sizes[n] = head_path.stat().st_size
    head = load(head_path)
    assert (head["latestVersion"], head["rowVersion"]) == (30, 31)
    # 3 publishes: activeVersion 3, latestVersion 3, rowVersion 4; 30: 30, 30, 31 (one more digit each).
    assert sizes[30] == sizes[3] + 3
    assert sizes[30] == sizes[10] == sizes[20]  # same digit widths: exactly the same size
    assert not any(isinstance(v, list) for k, v in head.items() if k != "draftConfig")
    assert list(head) == HEAD_FIELDS


# -- the derived index ------------------------------------------------------------


def test_version_index_matches_snapshots(run: Run, store: Path, tmp_path: Path) -> None:
    """versions.jsonl has one compact line per version, equal to that snapshot's `versions` entry."""
    build(run, tmp_path)
    lines = (flow_dir(store, "alpha") / "versions.jsonl").read_text(encoding="utf-8").splitlines()
    items = run.json("versions", "alpha")["versions"]
    assert [json.loads(line) for line in lines] == items
    for line, item in zip(lines, items, strict=False):
        assert list(json.loads(line)) == ENTRY_FIELDS
        assert line == json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        snap = load(flow_dir(store, "alpha") / "versions" / f"{item['version']:06d}.json")
        assert {k: snap[k] for k in ENTRY_FIELDS} == item


def test_versions_do_not_depend_on_the_index(run: Run, store: Path, tmp_path: Path) -> None:
    """The index is derived: with it removed, `versions` still lists every version from the snapshots."""
    build(run, tmp_path)
    expected = run.json("versions", "alpha")
    (flow_dir(store, "alpha") / "versions.jsonl").unlink()
    assert run.json("versions", "alpha") == expected


# -- bytes and time ------------------------------------------------------------------


def test_same_commands_same_bytes(tmp_path: Path) -> None:
    """Two stores built by the same commands under the same SOURCE_DATE_EPOCH are byte-identical, ids included."""
    trees = []
    for name in ("one", "two"):
        root = tmp_path / name
        assert CliRunner().invoke(app, ["init", str(root)]).exit_code == 0
        work = tmp_path / f"{name}-work"
        work.mkdir()
        build(Run(root), work)
        trees.append(tree_bytes(root))
    assert trees[0] == trees[1]
    assert any(name.endswith("000003.json") for name in trees[0])


def test_rewriting_same_content_same_bytes(run: Run, store: Path, tmp_path: Path) -> None:
    """Setting a field away and back gives the same flow.json bytes, except rowVersion."""
    run.json("create", "f", "--name", "F")
    first = load(flow_dir(store, "f") / "flow.json")
    run.json("update", "f", "--name", "G")
    run.json("update", "f", "--name", "F")
    again = load(flow_dir(store, "f") / "flow.json")
    assert {**again, "rowVersion": 1} == first
    assert json.dumps({**again, "rowVersion": 1}, indent=2) == json.dumps(first, indent=2)


def test_timestamps_follow_source_date_epoch(run: Run) -> None:
    """With SOURCE_DATE_EPOCH set, it is the clock: UTC ISO 8601 with milliseconds and Z."""
    result = run("create", "f", "--name", "F", "--json", env={"SOURCE_DATE_EPOCH": "1773585000"})
    assert json.loads(result.stdout)["createdAt"] == "2026-03-15T14:30:00.000Z"
    result = run("update", "f", "--name", "G", "--json", env={"SOURCE_DATE_EPOCH": "0"})
    assert json.loads(result.stdout)["updatedAt"] == "1970-01-01T00:00:00.000Z"


def test_timestamps_from_real_clock(run: Run) -> None:
    """Without SOURCE_DATE_EPOCH the stamp is the current UTC time in the same format."""
    start = time.time()
    result = run("create", "f", "--name", "F", "--json", env={"SOURCE_DATE_EPOCH": None})
    stamp = json.loads(result.stdout)["createdAt"]
    assert STAMP.match(stamp), stamp
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    assert start - 1 <= moment <= time.time() + 1


def test_no_temp_files_left_after_failures(run: Run, store: Path, tmp_path: Path) -> None:
    """Failed writes leave no temp file and no audit line behind."""
    run.json("create", "f", "--name", "F")
    before = tree_bytes(store)
    for args in (["publish", "f"], ["update", "f", "--status", "active"], ["create", "f", "--name", "x"],
                 ["update", "f", "--name", "x", "--row-version", "5"]):
        assert run(*args).exit_code in (4, 5)
    assert tree_bytes(store) == before
    assert [p for p in store.rglob("*") if ".tmp" in p.name] == []
    assert sorted(os.listdir(store / "flows" / "default")) == [".tenant.lock", "f"]

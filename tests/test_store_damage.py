"""A damaged store is input like any other: hand edits, bad merges and files
arriving behind flowctl's back give exit 8 naming the file (and field), no
command acts on what does not prove itself, nothing is lost, and `verify`'s
advice leads somewhere (`--repair` fixes what it says it fixes).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from flowctl.store import STAGING_DIR, TEMP_FILE

from conftest import PREFIX, Run, audit_lines, flow_dir, scored, tree_bytes, write_config

FLOW = Path("flows/default/f")


@pytest.fixture
def five(run: Run, store: Path, publish_versions: Callable[[str, int], None], tmp_path: Path) -> Path:
    """Flow f with v1..v5 and an unpublished draft (topN 42); returns its directory."""
    publish_versions("f", 5)
    assert run("update", "f", "--config", write_config(tmp_path / "draft.json", scored(top_n=42))).exit_code == 0
    return flow_dir(store, "f")


def verify(run: Run, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = run("verify", *args, "--json")
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)["problems"]


def one_error_line(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.stderr.startswith(PREFIX) and result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


WRITES = [["publish", "f"], ["update", "f", "--name", "x"], ["rollback", "f", "--version", "1"],
          ["delete", "f", "--yes"]]
READS = [["show", "f"], ["versions", "f"], ["list"], ["history", "f"], ["export", "f"],
         ["show", "f", "--version", "1"], ["diff", "f", "1", "draft"]]


# -- a file at versions/<latest+1>.json that is not a release cut off ----------------


def _copy_of_v3(directory: Path) -> None:
    shutil.copyfile(directory / "versions/000003.json", directory / "versions/000006.json")


def _renumbered_v3(directory: Path) -> None:
    snapshot = json.loads((directory / "versions/000003.json").read_bytes())
    snapshot["version"] = 6  # the right number, but no write-ahead audit line says so
    (directory / "versions/000006.json").write_text(json.dumps(snapshot, indent=2) + "\n")


def _other_flows_v6(directory: Path) -> None:
    snapshot = json.loads((directory / "versions/000005.json").read_bytes())
    snapshot.update(version=6, flowId="flow_someoneelse")
    (directory / "versions/000006.json").write_text(json.dumps(snapshot, indent=2) + "\n")


@pytest.mark.parametrize("plant", [_copy_of_v3, _renumbered_v3, _other_flows_v6], ids=lambda f: f.__name__)
def test_a_snapshot_past_latest_that_does_not_prove_itself_is_never_acted_on(
        run: Run, store: Path, five: Path, plant: Callable[[Path], None]) -> None:
    """`cp 000003.json 000006.json` (and look-alikes): readers keep showing v1..v5 and
    the unpublished draft; verify names the file and asks a person; --repair and
    every write leave the store byte for byte as it was (the draft is never lost)."""
    plant(five)
    before = tree_bytes(store)
    head = run.json("show", "f")
    assert (head["latestVersion"], head["draftConfig"]) == (5, scored(top_n=42))
    assert [entry["version"] for entry in run.json("versions", "f")["versions"]] == [1, 2, 3, 4, 5]
    code, found = verify(run)
    assert code == 8
    named = [p for p in found if p["path"] == str(FLOW / "versions/000006.json")]
    assert named and "not a release cut off here" in named[0]["problem"], found
    assert "a person must decide" in named[0]["problem"] and "--repair" not in named[0]["problem"]
    assert verify(run, "--repair")[0] == 8
    for args in WRITES:
        one_error_line(run(*args), 8, "000006.json", "not a release cut off here")
    assert tree_bytes(store) == before


@pytest.mark.parametrize("publishes", [0, 2])
def test_a_release_cut_off_before_its_index_line_is_completed(run: Run, store: Path, tmp_path: Path,
                                                               publishes: int) -> None:
    """A release cut right after its commit point by a flowctl that wrote the index
    line only after it (no index line yet, even for v1) is completed by the next write."""
    from unittest import mock

    from flowctl import journal
    from flowctl.flows import Flows
    from flowctl.store import Store

    run.json("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored()))
    for i in range(publishes):
        run.json("publish", "f", "-m", f"p{i}")
    real_append = journal._Transaction.append

    def without_index(tx: Any, path: Path, line: bytes) -> None:
        if path.name != "versions.jsonl":
            real_append(tx, path, line)

    class Killed(BaseException):
        pass

    with mock.patch.object(journal._Transaction, "append", without_index), \
            mock.patch.object(journal, "_after_commit", mock.Mock(side_effect=Killed)), pytest.raises(Killed):
        Flows(Store.open(store), "default", "tester").publish("f", notes="cut")
    assert run("update", "f", "--name", "next").exit_code == 0
    assert verify(run) == (0, [])
    assert [v["notes"] for v in run.json("versions", "f")["versions"]][-1] == "cut"


# -- the audit log's last line ------------------------------------------------------


def test_a_complete_last_audit_line_without_its_newline_is_kept(run: Run, store: Path, five: Path) -> None:
    """A last line that parses but lost its newline is complete: readers count it,
    verify says --repair adds the newline, and the next write keeps it."""
    audit = five / "audit.jsonl"
    lines = audit.read_bytes().splitlines()
    audit.write_bytes(audit.read_bytes().rstrip(b"\n"))
    assert len(run.json("history", "f")) == len(lines)
    code, found = verify(run)
    assert code == 8 and any("lacks its newline" in p["problem"] and "--repair" in p["problem"] for p in found)
    assert run("update", "f", "--name", "next").exit_code == 0
    assert audit.read_bytes().splitlines()[: len(lines)] == lines
    assert [entry["rowVersion"] for entry in audit_lines(store, "f")] == list(range(1, len(lines) + 2))
    assert verify(run) == (0, [])


def test_repair_adds_the_missing_newline(run: Run, store: Path, five: Path) -> None:
    """`verify --repair` adds back the audit log's lost final newline (byte-identical result) and
    exits 0 with nothing left to report."""
    audit = five / "audit.jsonl"
    original = audit.read_bytes()
    audit.write_bytes(original.rstrip(b"\n"))
    assert verify(run, "--repair") == (0, [])
    assert audit.read_bytes() == original


# -- records with missing or mistyped fields ------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("id", None), ("key", None), ("rowVersion", None), ("latestVersion", "5"), ("status", None),
    ("draftConfig", []), ("activeVersion", True), ("tenantId", "elsewhere"),
])
def test_a_damaged_head_stops_every_command_before_it_acts(run: Run, store: Path, five: Path,
                                                           field: str, value: Any) -> None:
    """flow.json with a field removed (None here) or of the wrong type: every read and
    write is exit 8 naming flow.json, and no write goes ahead (delete deletes nothing)."""
    head = json.loads((five / "flow.json").read_bytes())
    if value is None:
        del head[field]
    else:
        head[field] = value
    (five / "flow.json").write_text(json.dumps(head, indent=2) + "\n")
    before = tree_bytes(store)
    for args in [*READS, *WRITES]:
        one_error_line(run(*args), 8, "flow.json")
    assert tree_bytes(store) == before
    assert verify(run)[0] == 8


@pytest.mark.parametrize("field", ["notes", "configSnapshot", "source", "version"])
def test_a_snapshot_without_a_field_is_exit_8_naming_it(run: Run, store: Path, five: Path, field: str) -> None:
    """A snapshot that lost a field: reading it or rolling back to it is exit 8 naming the file."""
    path = five / "versions/000002.json"
    snapshot = json.loads(path.read_bytes())
    del snapshot[field]
    path.write_text(json.dumps(snapshot, indent=2) + "\n")
    before = tree_bytes(store)
    for args in (["show", "f", "--version", "2"], ["rollback", "f", "--version", "2"], ["diff", "f", "2", "3"],
                 ["export", "f"]):
        one_error_line(run(*args), 8, "000002.json")
    assert tree_bytes(store) == before


def test_a_damaged_index_line_falls_back_to_the_snapshots(run: Run, store: Path, five: Path) -> None:
    """An index line of the wrong shape is never printed: `versions` reads that
    version from its snapshot, which is the truth."""
    index = five / "versions.jsonl"
    lines = index.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["notes"] = 7
    lines[2] = (json.dumps(entry) + "\n").encode()
    index.write_bytes(b"".join(lines))
    listed = run.json("versions", "f")["versions"]
    assert [e["notes"] for e in listed] == [f"release {i}" for i in range(1, 6)]
    result = run("versions", "f")
    assert result.exit_code == 0 and "release 3" in result.stdout


@pytest.mark.parametrize("where", ["flow.json", "versions/000001.json", "versions.jsonl", "audit.jsonl", "versions"])
def test_a_directory_or_file_where_the_other_belongs_is_damage(run: Run, store: Path, five: Path,
                                                               where: str) -> None:
    """A directory where a store file belongs (or a file for versions/) is exit 8 naming
    it where a command reads it, and verify names it — never an I/O error (74) or a crash."""
    path = five / where
    if path.is_dir():
        shutil.rmtree(path)
        path.write_text("x\n")
    else:
        path.unlink()
        path.mkdir()
    for args in (["show", "f", "--version", "1"], ["export", "f"], ["history", "f"], ["versions", "f"],
                 ["verify", "--repair"], ["publish", "f"]):
        result = run(*args)
        assert result.exit_code in (0, 3, 8), (args, result.exit_code, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.output
    assert verify(run)[0] == 8


def test_a_write_refuses_a_mistyped_last_audit_line(run: Run, store: Path, five: Path) -> None:
    """A last audit line whose rowVersion is 6.0, not 6, is damage a write does not build on."""
    audit = five / "audit.jsonl"
    lines = audit.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[-1])
    lines[-1] = json.dumps({**entry, "rowVersion": float(entry["rowVersion"])}).encode() + b"\n"
    audit.write_bytes(b"".join(lines))
    before = tree_bytes(store)
    for args in WRITES:
        one_error_line(run(*args), 8, "audit.jsonl")
    assert tree_bytes(store) == before


def test_a_write_refuses_a_duplicated_last_index_line(run: Run, store: Path, five: Path) -> None:
    """An index whose last line is repeated ends at latestVersion but is not 1..N: writes refuse."""
    index = five / "versions.jsonl"
    index.write_bytes(index.read_bytes() + index.read_bytes().splitlines(keepends=True)[-1])
    before = tree_bytes(store)
    one_error_line(run("publish", "f"), 8, "versions.jsonl")
    assert tree_bytes(store) == before


def test_repair_advice_holds_when_the_head_is_mistyped(run: Run, store: Path, five: Path) -> None:
    """latestVersion 5.0: verify does not promise an index rebuild that repair cannot do."""
    head = five / "flow.json"
    head.write_text(head.read_text().replace('"latestVersion": 5', '"latestVersion": 5.0'))
    code, found = verify(run)
    assert code == 8 and all("--repair" not in p["problem"] for p in found), found


# -- writes check what they build on --------------------------------------------------


def test_a_write_refuses_when_the_audit_log_ends_before_the_head(run: Run, store: Path, five: Path) -> None:
    """The last audit line deleted by hand: the log ends one rowVersion short of the
    head; every write refuses (exit 8) rather than build on it, and verify says so."""
    audit = five / "audit.jsonl"
    audit.write_bytes(b"".join(audit.read_bytes().splitlines(keepends=True)[:-1]))
    before = tree_bytes(store)
    for args in WRITES[:3]:
        one_error_line(run(*args), 8, "audit.jsonl", "ends at rowVersion")
    assert tree_bytes(store) == before
    code, found = verify(run)
    assert code == 8 and any("ends at rowVersion" in p["problem"] for p in found)


def test_a_rollback_target_from_another_flow_is_refused(run: Run, store: Path, five: Path) -> None:
    """The target snapshot must be this flow's: one carrying another flowId is exit 8."""
    path = five / "versions/000002.json"
    snapshot = json.loads(path.read_bytes())
    snapshot["flowId"] = "flow_other"
    path.write_text(json.dumps(snapshot, indent=2) + "\n")
    one_error_line(run("rollback", "f", "--version", "2"), 8, "000002.json", "not this flow's")


# -- the audit log's rowVersions -----------------------------------------------------


def _lines(directory: Path) -> list[bytes]:
    return (directory / "audit.jsonl").read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize("edit, expected", [
    (lambda lines: lines[:3] + lines[4:], "line(s) before it are missing"),
    (lambda lines: lines[:-1], "ends at rowVersion"),
    (lambda lines: [*lines[:3], lines[2], *lines[3:]], "a second publish line for v1"),
], ids=["middle line deleted", "last line deleted", "publish line duplicated"])
def test_verify_finds_missing_and_duplicated_audit_lines(run: Run, store: Path, five: Path,
                                                         edit: Callable[[list[bytes]], list[bytes]],
                                                         expected: str) -> None:
    """rowVersions run 1..head without a gap; one release line per version."""
    (five / "audit.jsonl").write_bytes(b"".join(edit(_lines(five))))
    code, found = verify(run)
    assert code == 8 and any(expected in p["problem"] for p in found), found
    assert all("--repair" not in p["problem"] for p in found), found


# -- verify's advice works when followed ---------------------------------------------


def _flip_notes(directory: Path) -> None:
    path = directory / "versions/000003.json"
    snapshot = json.loads(path.read_bytes())
    snapshot.update(notes="edited by hand", publishedBy="mallory")
    path.write_text(json.dumps(snapshot, indent=2) + "\n")


def _stale_index_line(directory: Path) -> None:
    index = directory / "versions.jsonl"
    lines = index.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["notes"] = "stale"
    lines[1] = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
    index.write_bytes(b"".join(lines))


DAMAGE: dict[str, Callable[[Path], object]] = {
    "notes and publishedBy edited in a snapshot": _flip_notes,
    "index line stale (audit and snapshot agree)": _stale_index_line,
    "index deleted": lambda d: (d / "versions.jsonl").unlink(),
    "index torn": lambda d: (d / "versions.jsonl").write_bytes((d / "versions.jsonl").read_bytes()[:-9]),
    "audit torn": lambda d: (d / "audit.jsonl").write_bytes((d / "audit.jsonl").read_bytes() + b'{"at": "20'),
    "audit newline lost": lambda d: (d / "audit.jsonl").write_bytes((d / "audit.jsonl").read_bytes()[:-1]),
    "snapshot deleted": lambda d: (d / "versions/000002.json").unlink(),
    "snapshot config altered": lambda d: (d / "versions/000002.json").write_bytes(
        (d / "versions/000002.json").read_bytes().replace(b'"topN": 2', b'"topN": 3')),
    "copy of v3 at v6": _copy_of_v3,
    "stray temp file": lambda d: (d / "versions/.000006.json.tmp-77-0badcafe").write_text("part"),
    "user's file in versions/": lambda d: (d / "versions/README").write_text("mine"),
    "head edited: status null": lambda d: (d / "flow.json").write_text(
        (d / "flow.json").read_text().replace('"status": "active"', '"status": null')),
    "audit middle line deleted": lambda d: (d / "audit.jsonl").write_bytes(b"".join(
        _lines(d)[:3] + _lines(d)[4:])),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_repair_does_what_verify_says_it_does_and_nothing_else(run: Run, store: Path, five: Path,
                                                               damage: str) -> None:
    """For each kind of damage: verify names at least one file; every finding that
    says `--repair` is gone after --repair; repair never changes a snapshot or the
    draft, and removes only files by flowctl's exact temp names.

    Prints the corruption table of docs/reliability.md (run with -rP)."""
    draft_before = json.loads((five / "flow.json").read_bytes()).get("draftConfig")
    DAMAGE[damage](five)
    before = tree_bytes(store)
    code, found = verify(run)
    assert code == 8 and found
    promised = {(p["path"], p["problem"]) for p in found if "--repair" in p["problem"]}
    code_after, after = verify(run, "--repair")
    left = {(p["path"], p["problem"]) for p in after}
    assert not promised & left, promised & left
    assert all("--repair" not in problem for _, problem in left), left
    tree = tree_bytes(store)
    for name, data in before.items():
        if name not in tree:
            assert TEMP_FILE.match(Path(name).name) or STAGING_DIR.match(Path(name).parent.name), name
        elif "/versions/0" in name:
            assert tree[name] == data, f"repair changed the snapshot {name}"
    assert json.loads((five / "flow.json").read_bytes()).get("draftConfig") == draft_before
    outcome = "clean" if code_after == 0 else f"{len(after)} left for a person"
    print(f"| {damage} | {found[0]['path']}: {found[0]['problem']} | {outcome} |")


# -- store paths that are not stores ----------------------------------------------------


@pytest.mark.parametrize("where", ["option", "environment"])
def test_a_store_path_that_is_a_file_is_bad_input(run: Run, tmp_path: Path, where: str) -> None:
    """--store /etc/passwd (or $FLOWCTL_STORE): exit 2, one line, not an internal error."""
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    from typer.testing import CliRunner

    from flowctl.cli.app import app

    args = ["--store", str(target), "list"] if where == "option" else ["list"]
    env = {"FLOWCTL_STORE": str(target)} if where == "environment" else None
    one_error_line(CliRunner().invoke(app, args, env=env), 2, "is a file, not a store directory")


@pytest.mark.parametrize("target", ["file", "/dev/null", "file/sub"])
def test_init_over_a_file_is_bad_input(tmp_path: Path, target: str) -> None:
    """`flowctl init FILE`, `init /dev/null`, `init FILE/sub`: exit 2 with a plain message."""
    from typer.testing import CliRunner

    from flowctl.cli.app import app

    (tmp_path / "file").write_text("x")
    path = target if target.startswith("/") else str(tmp_path / target)
    one_error_line(CliRunner().invoke(app, ["init", path]), 2, "not a directory")
    assert (tmp_path / "file").read_text() == "x"

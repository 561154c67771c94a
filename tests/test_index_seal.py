"""The index seal (src/flowctl/index_seal.py): `versions --json` parses only the
index lines no seal vouches for, and prints exactly what it printed without one.

Every test changes files with plain file operations between real CLI reads,
as git or an editor would, and compares with a read that has no seal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowctl import index_seal, reading

from conftest import PublishVersions, Run, flow_dir

SEAL = Path("flows") / "default" / ".cache" / "f.versions.lock"


def versions(run: Run) -> Any:
    result = run("versions", "f", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def unsealed(run: Run, store: Path) -> Any:
    """What `versions --json` prints when no seal vouches for anything."""
    (store / SEAL).unlink(missing_ok=True)
    found = versions(run)
    (store / SEAL).unlink(missing_ok=True)
    return found


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many index lines each `versions` read parses (the seal's point)."""
    counts: list[int] = []
    real = reading._all_sound

    def counting(lines: list[bytes], first: int = 1) -> bool:
        counts.append(len(lines))
        return real(lines, first)

    monkeypatch.setattr(reading, "_all_sound", counting)
    return counts


def test_sealed_lines_are_not_parsed_again(run: Run, store: Path, publish_versions: PublishVersions,
                                           parsed: list[int]) -> None:
    publish_versions("f", 5)
    first = versions(run)
    assert parsed == [5] and (store / SEAL).read_bytes().startswith(b"flowctl-index-seal 1 5 ")
    assert versions(run) == first and parsed == [5, 0]
    assert run("update", "f", "--set", "/nodes/rank/config/topN=99").exit_code == 0
    assert run("publish", "f", "-m", "six").exit_code == 0
    sixth = versions(run)
    assert parsed[-1] == 1, "a publish appends: only the new line is parsed"
    assert sixth["versions"][:5] == first["versions"] and sixth == unsealed(run, store)


def test_a_line_changed_in_place_is_never_vouched_for(run: Run, store: Path,
                                                       publish_versions: PublishVersions) -> None:
    """An edit inside the sealed bytes (same length even) breaks the digest: the
    index is judged afresh, and a damaged line is rebuilt from its snapshot."""
    publish_versions("f", 4)
    good = versions(run)
    index = flow_dir(store, "f") / "versions.jsonl"
    raw = index.read_bytes()
    index.write_bytes(raw.replace(b'"version":2,', b'"version":7,', 1))
    assert len(index.read_bytes()) == len(raw)
    assert versions(run) == good  # v2's entry from its snapshot, not the damaged line
    index.write_bytes(raw.replace(b'"version":2,', b'"versi0n":2,', 1))
    assert versions(run) == good


@pytest.mark.parametrize("seal", [b"", b"garbage\n", b"flowctl-index-seal 1 3 10 abc\n",
                                  b"flowctl-index-seal 1 99 100 " + b"0" * 64 + b"\n",
                                  b"flowctl-index-seal 9 3 10 " + b"0" * 64 + b"\n", b"x" * 10_000])
def test_a_foreign_or_damaged_seal_vouches_for_nothing(run: Run, store: Path, publish_versions: PublishVersions,
                                                       parsed: list[int], seal: bytes) -> None:
    publish_versions("f", 3)
    expected = unsealed(run, store)
    (store / SEAL).write_bytes(seal)
    parsed.clear()
    assert versions(run) == expected and parsed == [3]


def test_a_seal_past_the_head_is_not_trusted(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """A head put back to an earlier latestVersion (by hand, a bad merge): the
    seal of more lines proves nothing about the first ones' end."""
    publish_versions("f", 4)
    versions(run)
    head_path = flow_dir(store, "f") / "flow.json"
    head = json.loads(head_path.read_text(encoding="utf-8"))
    head.update(latestVersion=3, activeVersion=3)
    head_path.write_text(json.dumps(head, indent=2), encoding="utf-8")
    assert [entry["version"] for entry in versions(run)["versions"]] == [1, 2, 3]


def test_crlf_line_ends_print_the_same(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """An index checked out with CRLF line ends (git's autocrlf) prints the same items."""
    publish_versions("f", 3)
    expected = unsealed(run, store)
    index = flow_dir(store, "f") / "versions.jsonl"
    index.write_bytes(index.read_bytes().replace(b"\n", b"\r\n"))
    assert versions(run) == expected and versions(run) == expected


def test_a_seal_that_cannot_be_written_costs_only_a_parse(run: Run, store: Path,
                                                          publish_versions: PublishVersions,
                                                          parsed: list[int]) -> None:
    publish_versions("f", 2)
    cache = store / "flows" / "default" / ".cache"
    for entry in cache.iterdir() if cache.is_dir() else ():
        entry.unlink()
    if cache.is_dir():
        cache.rmdir()
    cache.write_text("not a directory", encoding="utf-8")
    expected = versions(run)
    assert versions(run) == expected and parsed == [2, 2]
    assert [entry["version"] for entry in expected["versions"]] == [1, 2]


def test_the_seal_is_git_ignored_local_state(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    publish_versions("f", 1)
    versions(run)
    assert (store / SEAL).exists()
    subprocess.run(["git", "init", "-q", str(store)], check=True)
    assert subprocess.run(["git", "-C", str(store), "check-ignore", "-q", str(SEAL)]).returncode == 0
    assert index_seal.path_of(flow_dir(store, "f") / "versions.jsonl") == store / SEAL
    assert run("verify").exit_code == 0, "a seal is no finding of verify"

"""verify's per-snapshot work: read, check and re-hash one snapshot file.

Split from verify.py so it can run in a second process (a long history is
CPU-bound on re-hashing, and every file is independent) and so pydantic, which
words type problems, runs only for a snapshot that has some.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from . import jsonio, kinds, records
from .errors import FlowctlError
from .store import read_bytes


def _pydantic_shape(shape: type, only: Collection[str]) -> Any:
    """The fields `only` of a TypedDict of records.py, in the form pydantic
    accepts on Python 3.11.

    records.py keeps stdlib TypedDicts so the read paths never import
    typing_extensions; verify converts them here.
    """
    from typing import get_type_hints

    from typing_extensions import TypedDict

    hints = {name: hint for name, hint in get_type_hints(shape).items() if name in only}
    return TypedDict(shape.__name__, hints)  # type: ignore[operator]


@functools.lru_cache(maxsize=64)
def _adapter(shape: type, fields: tuple[str, ...]) -> Any:
    """The pydantic validator of `fields` of `shape`, built once per shape: building
    one costs ~1 ms, so a verify of 100,000 snapshots builds it once, not per file."""
    from pydantic import TypeAdapter

    return TypeAdapter(_pydantic_shape(shape, fields))


def record_problems(record: Any, shape: type, label: str, fields: Collection[str] | None = None) -> list[str]:
    """Type and field-order problems of a stored record (pydantic checks the
    types); `fields`: the fields it must have in order, when they depend on
    the record's kind (records.head_fields, records.snapshot_fields)."""
    from pydantic import ValidationError

    if not isinstance(record, dict):
        return [f"{label} is not a JSON object"]
    problems = []
    expected = list(fields or shape.__annotations__)
    if list(record) != expected:
        problems.append(f"{label} fields are not exactly {', '.join(expected)} in that order")
    try:
        _adapter(shape, tuple(expected)).validate_python(record, strict=True)
    except ValidationError as exc:
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{label} field {where}: {error['msg']}")
    return problems


# What `_examine_snapshot` found: the snapshot when sound (without its config),
# and the findings as (how, problem): how is "restore", "decide" or "add".
Outcome = tuple[dict[str, Any] | None, list[tuple[str, str]]]
Facts = tuple[str, Any, Any, Any]  # versions/ as a str, and the head's id, key and kind
_SPLIT_FROM = 20_000  # snapshots: from here the re-hashing is shared with a second process


def _examine_snapshot(facts: Facts, number: int) -> Outcome:
    """Read, check and re-hash snapshot `number`: the per-version work of verify,
    pure (no finding recorded here), so a second process can do half of it."""
    versions_dir, flow_id, key, kind = facts
    name = f"{number:06d}.json"  # FlowFiles.snapshot's name: no Path is built for a sound file
    try:
        snapshot = json.loads(_read_file(os.path.join(versions_dir, name)))
    except FlowctlError as exc:  # a symlink
        return None, [("add", exc.message)]
    except (ValueError, OSError, RecursionError):
        return None, [("restore", "unreadable: not valid JSON (a git merge conflict?)")]
    problems = _snapshot_problems(snapshot, name)
    if not problems:
        if jsonio.config_sha256(snapshot["configSnapshot"]) != snapshot["configSha256"]:
            problems.append("config does not match configSha256: the file was altered")
        if snapshot["version"] != number:
            problems.append(f"says version {snapshot['version']} but is named {name}")
        if (snapshot["flowId"], snapshot["key"]) != (flow_id, key):
            problems.append("flowId/key differ from flow.json")
    findings = [("restore", problem) for problem in problems]
    if not problems and kinds.of(snapshot) != kind:  # no kind: a decision flow
        # The snapshot or flow.json: which one was edited is for a person to say.
        return None, [("decide", f"kind {kinds.of(snapshot)!r} differs from flow.json's {kind!r}")]
    if problems:
        return None, findings
    # Kept without its config (hashed above; no later check reads it), so a
    # history of 100,000 versions is not held in memory config by config.
    del snapshot["configSnapshot"]
    return snapshot, []


def _examine_many(facts: Facts, numbers: list[int]) -> list[Outcome]:
    return [_examine_snapshot(facts, number) for number in numbers]


def examine_all(facts: Facts, numbers: list[int]) -> Iterator[tuple[int, Outcome]]:
    """(number, outcome) of every snapshot in `numbers`, in order. A long history
    is split in two: a forked process examines the second half while this one
    does the first (re-hashing is CPU-bound and every file independent); if the
    fork fails, this process does it all."""
    if len(numbers) < _SPLIT_FROM or (os.cpu_count() or 1) < 2:
        yield from ((number, _examine_snapshot(facts, number)) for number in numbers)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    half = len(numbers) // 2
    first, second = numbers[:half], numbers[half:]
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        future = pool.submit(_examine_many, facts, second)
    except (OSError, ValueError):
        yield from ((number, _examine_snapshot(facts, number)) for number in numbers)
        return
    try:
        yield from ((number, _examine_snapshot(facts, number)) for number in first)
        try:
            rest = future.result()
        except Exception:  # a dead helper (any reason): do its half here instead
            rest = _examine_many(facts, second)
        yield from zip(second, rest, strict=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def symlinks(directory: Path) -> list[Path]:
    """The symlinks anywhere below `directory`, not following any: what
    `rglob("*")` filtered by `is_symlink()` finds, from the directory entries'
    types alone instead of a Path and an lstat per file of a long history."""
    found, pending = [], [str(directory)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        found.append(Path(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
        except OSError:
            continue  # unreadable: as rglob, which skips it
    return found


def _read_file(path: str) -> bytes:
    """store.read_bytes for a str path (a snapshot of the hot loop): never through a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return read_bytes(Path(path))  # the same errors, raised by the one place that words them
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read()
        except IsADirectoryError:
            pass
    return read_bytes(Path(path))  # a directory there: worded as every reader words it


def _snapshot_problems(snapshot: Any, name: str) -> list[str]:
    """The type and field-order problems of a snapshot, as `record_problems` and
    `records.snapshot_problem` word them. A snapshot whose fields are in order and
    pass the stdlib checks (exact types, as pydantic's strict mode) has none, so
    pydantic only runs, for its wording, on one that has some."""
    fields = records.snapshot_fields(snapshot) if isinstance(snapshot, dict) else None
    if fields is not None and tuple(snapshot) == fields and records.snapshot_problem(snapshot) is None:
        return []
    problems = record_problems(snapshot, records.Snapshot, name, fields)
    return problems + [problem for problem in [records.snapshot_problem(snapshot)] if problem and not problems]

"""The write protocol: the order of writes, each operation's commit point,
and how an operation cut off by a crash is completed or dropped.

Every change appends its audit line first (write-ahead), then makes its one
commit step: the head replace for create-less changes, the exclusive
creation of ``versions/NNNNNN.json`` for publish and rollback. So after a
kill at any point, under the flow's lock, `recover` finds one of:

- an audit line newer than the head and no new snapshot: the change never
  committed; the line is dropped;
- a snapshot newer than the head: the release committed; the index line,
  the head (and, for a hand-damaged log, the audit line) are completed
  forward from the snapshot, which holds everything needed.

Readers take no lock and present the same state recovery would produce.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from . import jsonio, records
from .errors import Conflict, FlowctlError, IntegrityError, NotFound
from .records import Head, Snapshot, VersionEntry
from .store import (
    FlowFiles,
    append_line,
    create_exclusive,
    fsync_dir,
    open_nofollow,
    read_bytes,
    read_json,
    truncate,
    write_atomic,
)

_TAIL_CHUNK = 64 * 1024


# -- reading -----------------------------------------------------------------


def read_head(files: FlowFiles) -> Head:
    """The head exactly as stored; NotFound if the flow does not exist."""
    try:
        head = read_json(files.head)
    except FileNotFoundError:
        raise NotFound(f"no flow {files.dir.name!r}: see `flowctl list` for the flows of this tenant") from None
    if not isinstance(head, dict) or not isinstance(head.get("latestVersion"), int):
        raise IntegrityError(f"{files.head}: not a flow head: run `flowctl verify`")
    return head  # type: ignore[return-value]


def _pending_snapshot(files: FlowFiles, head: Head) -> Snapshot | None:
    """A snapshot past the head's latestVersion: a release cut off after its commit point."""
    try:
        return read_json(files.snapshot(head["latestVersion"] + 1))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def current_head(files: FlowFiles) -> Head:
    """The head every command sees: completed forward if a release was cut off."""
    head = read_head(files)
    pending = _pending_snapshot(files, head)
    return records.head_after_release(head, pending) if pending else head


def read_snapshot(files: FlowFiles, head: Head, version: int, check: bool = False) -> Snapshot:
    """Version `version` of the flow; with `check`, its checksum must hold (exit 8)."""
    if not 1 <= version <= head["latestVersion"]:
        have = f"v1..v{head['latestVersion']}" if head["latestVersion"] else "no versions yet"
        raise NotFound(f"flow {head['key']!r} has no version {version} ({have}): see `flowctl versions {head['key']}`")
    try:
        snapshot: Snapshot = read_json(files.snapshot(version))
    except FileNotFoundError:
        raise IntegrityError(f"{files.snapshot(version)}: missing: run `flowctl verify`") from None
    if check and jsonio.config_sha256(snapshot.get("configSnapshot")) != snapshot.get("configSha256"):
        raise IntegrityError(
            f"{files.snapshot(version)}: config does not match its configSha256 (damaged file): "
            "run `flowctl verify` and restore it from git"
        )
    return snapshot


def _complete_lines(path: os.PathLike[str]) -> bytes:
    """All complete lines of a JSON Lines file (a torn last line is left out)."""
    try:
        raw = read_bytes(path)  # type: ignore[arg-type]
    except FileNotFoundError:
        return b""
    return raw[: raw.rfind(b"\n") + 1]


def read_index(files: FlowFiles) -> list[dict[str, Any]]:
    """The version index as stored (complete lines only); a damaged line ends it."""
    body = _complete_lines(files.index)
    if not body:
        return []
    try:
        # One C-level parse for the whole file: 10,000 versions cost one call.
        return json.loads(b"[" + body.rstrip(b"\n").replace(b"\n", b",") + b"]")  # type: ignore[no-any-return]
    except (ValueError, RecursionError):
        entries = []
        for line in body.splitlines():
            try:
                entries.append(json.loads(line))
            except (ValueError, RecursionError):
                break
        return entries


def read_index_lines(files: FlowFiles, head: Head) -> list[bytes] | None:
    """The index's lines as stored when they are exactly versions 1..latest,
    else None. Each line is parsed to be sure, but none is kept."""
    lines = _complete_lines(files.index).splitlines()[: head["latestVersion"]]
    if len(lines) != head["latestVersion"]:
        return None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("version") != number:
            return None
    return lines


def read_versions(files: FlowFiles, head: Head) -> list[VersionEntry]:
    """Every version's entry, oldest first: from the index, and from the
    snapshots for whatever the index lacks (it is derived, they are the truth)."""
    latest = head["latestVersion"]
    entries = read_index(files)[:latest]
    good = 0
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("version") != good + 1:
            break
        good += 1
    result: list[VersionEntry] = entries[:good]  # type: ignore[assignment]
    for version in range(good + 1, latest + 1):
        result.append(records.version_entry(read_snapshot(files, head, version)))
    return result


def read_audit(files: FlowFiles, head: Head) -> list[dict[str, Any]]:
    """Committed audit entries, oldest first (uncommitted intents left out)."""
    entries = []
    for line in _complete_lines(files.audit).splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            raise IntegrityError(f"{files.audit}: a line is not valid JSON: run `flowctl verify`") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("rowVersion"), int):
            raise IntegrityError(f"{files.audit}: a line is not an audit entry: run `flowctl verify`")
        if entry["rowVersion"] <= head["rowVersion"]:
            entries.append(entry)
    return entries


# -- recovery ----------------------------------------------------------------


def _tail(path: os.PathLike[str]) -> tuple[int, int, bytes]:
    """(file size, offset where the last complete line starts, that line).

    Reads only the end of the file, so a long history costs nothing extra.
    """
    try:
        fd = open_nofollow(path, os.O_RDONLY)  # type: ignore[arg-type]
    except FileNotFoundError:
        return 0, 0, b""
    try:
        size = os.fstat(fd).st_size
        chunk = _TAIL_CHUNK
        while True:
            start = max(0, size - chunk)
            os.lseek(fd, start, os.SEEK_SET)
            data = b""
            while len(data) < size - start:
                part = os.read(fd, size - start - len(data))
                if not part:
                    break
                data += part
            end = data.rfind(b"\n")  # end of the last complete line
            if end == -1:
                if start == 0:
                    return size, 0, b""
                chunk *= 2
                continue
            begin = data.rfind(b"\n", 0, end) + 1
            if begin == 0 and start > 0:
                chunk *= 2
                continue
            return size, start + begin, data[begin : end + 1]
    finally:
        os.close(fd)


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _drop_torn_tail(path: os.PathLike[str]) -> tuple[int, dict[str, Any] | None]:
    """Cut a torn last line off a JSON Lines file; return (line start, last entry)."""
    size, start, line = _tail(path)
    complete_end = start + len(line)
    if complete_end < size:
        truncate(path, complete_end)  # type: ignore[arg-type]
    return start, _parse_line(line) if line else None


def _sync_index(files: FlowFiles, head: Head) -> None:
    """Make the derived version index hold exactly versions 1..latestVersion."""
    latest = head["latestVersion"]
    start, last = _drop_torn_tail(files.index)
    last_version = last.get("version") if last else 0
    if last_version == latest:
        return
    if isinstance(last_version, int) and last_version == latest + 1:
        truncate(files.index, start)  # an entry of a release that never committed
        return
    if not (isinstance(last_version, int) and 0 <= last_version < latest):
        rebuild_index(files, head)
        return
    for version in range(last_version + 1, latest + 1):
        append_line(files.index, jsonio.compact_line(records.version_entry(read_snapshot(files, head, version))))


def rebuild_index(files: FlowFiles, head: Head) -> None:
    """Rewrite the version index from the snapshots, the only source of truth."""
    lines = b"".join(
        jsonio.compact_line(records.version_entry(read_snapshot(files, head, version)))
        for version in range(1, head["latestVersion"] + 1)
    )
    write_atomic(files.index, lines)


def release_audit(snapshot: Snapshot, row_version: int) -> dict[str, Any]:
    source = snapshot["source"]
    return records.audit_entry(
        snapshot["publishedAt"],
        snapshot["publishedBy"],
        source.get("action", "publish"),
        row_version,
        version=snapshot["version"],
        restoredVersion=source.get("restoredVersion"),
        previousVersion=source.get("previousVersion"),
        notes=snapshot["notes"],
    )


def recover(files: FlowFiles) -> Head:
    """Under the flow's lock: finish or drop whatever a crash left half-done,
    and return the head as it now stands on disk."""
    head = read_head(files)
    audit_start, last_audit = _drop_torn_tail(files.audit)
    pending = _pending_snapshot(files, head)
    if pending is not None:
        completed = records.head_after_release(head, pending)
        if not last_audit or last_audit.get("rowVersion") != completed["rowVersion"]:
            append_line(files.audit, jsonio.compact_line(release_audit(pending, completed["rowVersion"])))
        _sync_index(files, completed)
        write_atomic(files.head, jsonio.encode(completed))
        return completed
    row = last_audit.get("rowVersion") if last_audit else None
    if isinstance(row, int) and row > head["rowVersion"]:
        truncate(files.audit, audit_start)  # written ahead of a change that never committed
    _sync_index(files, head)
    return head


# -- writing -----------------------------------------------------------------


class _AuditIntent:
    """Append the audit line ahead of the commit step; take it back if the
    operation fails before committing, so an error changes nothing."""

    def __init__(self, files: FlowFiles, entry: dict[str, Any]) -> None:
        self.files = files
        self.entry = entry

    def __enter__(self) -> None:
        try:
            self.size = os.stat(self.files.audit).st_size
        except FileNotFoundError:
            self.size = 0
        append_line(self.files.audit, jsonio.compact_line(self.entry))

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None and not self._committed():
            truncate(self.files.audit, self.size)

    def _committed(self) -> bool:
        """Whether the commit step took effect before the error: a rename or link
        can succeed and the fsync or cleanup after it fail. The line then stays
        (the error is still raised; the change is done, as readers already see)."""
        try:
            return current_head(self.files)["rowVersion"] >= self.entry["rowVersion"]
        except (FlowctlError, OSError):
            return False


def commit_change(files: FlowFiles, audit: dict[str, Any], head: Head) -> None:
    """Write a change of the head (update): audit intent, then the head (commit)."""
    with _AuditIntent(files, audit):
        write_atomic(files.head, jsonio.encode(head))


def commit_release(files: FlowFiles, audit: dict[str, Any], snapshot: Snapshot, head: Head) -> None:
    """Write a new version (publish, rollback): audit intent, snapshot (commit),
    then the derived index and the head, both completable from the snapshot."""
    with _AuditIntent(files, audit):
        create_exclusive(files.snapshot(snapshot["version"]), jsonio.encode(snapshot))
    append_line(files.index, jsonio.compact_line(records.version_entry(snapshot)))
    write_atomic(files.head, jsonio.encode(head))


def _short(name: str) -> str:
    """A key cut to fit in a temp directory name: a key may be 255 chars, the
    file system's limit for a whole name, and the temp name adds ~25."""
    return name[:64]


def create_flow(files: FlowFiles, head: Head, audit: dict[str, Any]) -> None:
    """Build the flow in a temp directory, then rename it into place (commit)."""
    import_flow(files, head, [], [audit])


def import_flow(files: FlowFiles, head: Head, snapshots: list[Snapshot], audit: list[dict[str, Any]]) -> None:
    """Create a flow with its whole history (`import`; `create` has none yet):
    built in a temp directory beside, then renamed into place (commit)."""
    staging = files.dir.with_name(f".{_short(files.dir.name)}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
    staging.mkdir()
    try:
        staged = FlowFiles(staging)
        staged.versions.mkdir()
        # Nobody sees the staging directory, so each file is written once and
        # fsynced (append_line creates it), and the directories once at the end.
        for snapshot in snapshots:
            append_line(staged.snapshot(snapshot["version"]), jsonio.encode(snapshot))
        if snapshots:
            append_line(staged.index, b"".join(jsonio.compact_line(records.version_entry(s)) for s in snapshots))
        write_atomic(staged.head, jsonio.encode(head))
        append_line(staged.audit, b"".join(jsonio.compact_line(entry) for entry in audit))
        fsync_dir(staged.versions)
        fsync_dir(staging)
        os.rename(staging, files.dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if files.dir.exists():
            raise Conflict(f"flow {files.dir.name!r} already exists") from None
        raise exc
    fsync_dir(files.dir.parent)


def delete_flow(files: FlowFiles) -> None:
    """Move the flow's directory out of the namespace (commit), then remove it."""
    doomed = files.dir.with_name(f".{_short(files.dir.name)}.tmp-deleted-{os.getpid()}-{os.urandom(4).hex()}")
    os.rename(files.dir, doomed)
    fsync_dir(files.dir.parent)
    # Committed: what is left (a concurrent `verify --repair` may be removing the
    # same stray directory) is a stray that verify --repair removes, not a failure.
    shutil.rmtree(doomed, ignore_errors=True)

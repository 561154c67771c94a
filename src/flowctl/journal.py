"""The write protocol: the order of writes, each operation's commit point,
and how an operation cut off by a crash is completed or dropped.

Every change first writes everything that needs disk space — its audit line
(write-ahead), the version-index line, the new snapshot and head as temp
files — and then makes its one commit step: the exclusive link of
``versions/NNNNNN.json`` for publish and rollback, the rename of the head
for other changes, the rename of a directory for create, import and delete.
A failure before the commit step takes every write back (`_Transaction`),
so a full disk changes nothing; a failure after it leaves a committed change
that readers already show whole and that recovery finishes.

After a kill at any point, under the flow's lock, `recover` finds one of:

- an audit line just newer than the head and no new snapshot: the change
  never committed; the line (and an index line written for it) is dropped;
- a snapshot at latestVersion+1 that proves to be a release cut off after
  its commit point (see `reading.pending_release`): the head is completed
  forward from it.

Anything else that does not fit — a snapshot that does not prove itself, an
audit log or index whose tail disagrees with the head — is damage: the write
refuses (exit 8) and `flowctl verify` names it. Recovery never acts on a
file it cannot prove flowctl wrote for this flow, and never loses a draft.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from . import jsonio, records
from .errors import Conflict, IncompleteWrite, io_reason, storage_error
from .reading import (
    AuditTail,
    audit_tail,
    damage,
    index_tail,
    parse_line,
    pending_release,
    read_head,
    read_snapshot,
    release_audit,
    tail_lines,
)
from .records import Head, Snapshot
from .store import (
    FlowFiles,
    append_line,
    file_size,
    fsync_dir,
    staging_name,
    truncate,
    write_atomic,
    write_temp,
)

# -- recovery ----------------------------------------------------------------


def _settle_tail(path: Path) -> None:
    """Finish the last line of a JSON Lines file: a line that parses but lost its
    newline gets it back; bytes that do not parse (a torn write) are cut off."""
    size, _, trailing = tail_lines(path, 1)
    if not trailing:
        return
    if parse_line(trailing) is not None:
        append_line(path, b"\n")
    else:
        truncate(path, size - len(trailing))


def _is_intent(tail: AuditTail, head: Head) -> bool:
    """Whether the audit log's last line is the write-ahead line of a change that
    never committed: exactly one rowVersion past the head, right after the head's own."""
    last, previous = tail.last, tail.previous
    return (
        last is not None
        and last.get("rowVersion") == head["rowVersion"] + 1
        and (previous.get("rowVersion") if previous else 0) == head["rowVersion"]
    )


def settle(files: FlowFiles) -> tuple[Head, AuditTail]:
    """Under the flow's lock: finish or drop whatever a crash left half-done —
    only what proves to be flowctl's own unfinished write — and return the
    head as it now stands with the audit log's tail.

    Raises IntegrityError (exit 8) for a file past the head that does not
    prove itself, writing nothing for it.
    """
    head = read_head(files)
    _settle_tail(files.audit)
    _settle_tail(files.version_index)
    tail = audit_tail(files)
    pending = pending_release(files, head, tail, strict=True)
    settled = pending is not None
    if pending is not None:
        completed = records.head_after_release(head, pending)
        _complete_index(files, completed, pending)
        write_atomic(files.head, jsonio.encode(completed))
        head = completed
    elif _is_intent(tail, head):
        truncate(files.audit, tail.last_offset)  # written ahead of a change that never committed
        tail = audit_tail(files)
        settled = True
    if _drop_uncommitted_index_line(files, head) or settled:
        for temp in files.temp_files():  # what the cut-off write had staged
            temp.unlink(missing_ok=True)
    return head, tail


def recover(files: FlowFiles) -> Head:
    """What every write does first, under the flow's lock: `settle`, then check
    the tails the write builds on (`check_tails`); the head to build on."""
    head, tail = settle(files)
    check_tails(files, head, tail)
    return head


def preview(files: FlowFiles) -> Head:
    """The head `recover` would give, writing nothing (for --dry-run)."""
    head = read_head(files)
    tail = audit_tail(files)
    pending = pending_release(files, head, tail, strict=True)
    if pending is not None:
        return records.head_after_release(head, pending)  # the real run completes it first
    if not _is_intent(tail, head):
        check_tails(files, head, tail)
    return head


def _drop_uncommitted_index_line(files: FlowFiles, head: Head) -> bool:
    """An index line one version past the head belongs to a release that never
    committed (the line is written before the snapshot's link): drop it."""
    offset, entry, previous = index_tail(files)
    if entry is not None and entry.get("version") == head["latestVersion"] + 1 and (
        (previous.get("version") if previous else 0) == head["latestVersion"]
    ):
        truncate(files.version_index, offset)
        return True
    return False


def _complete_index(files: FlowFiles, head: Head, released: Snapshot) -> None:
    """Add the index line of a release completed forward, if it lacks one (the
    write order before this one wrote that line after the commit point)."""
    _, entry, _ = index_tail(files)
    if (entry.get("version") if entry else 0) == head["latestVersion"] - 1:
        append_line(files.version_index, jsonio.compact_line(records.version_entry(released)))


def check_tails(files: FlowFiles, head: Head, tail: AuditTail | None = None) -> None:
    """What a write builds on must hold together, else IntegrityError naming the
    file: the audit log ends at the head's rowVersion, the index at its
    latestVersion, and both agree with the latest snapshot. O(1) in history."""
    tail = tail or audit_tail(files)
    last_row = tail.last.get("rowVersion") if tail.last else None
    if tail.last is None or records.audit_problem(tail.last) or type(last_row) is not int \
            or last_row != head["rowVersion"]:
        raise damage(files.audit, f"ends at rowVersion {last_row}, but flow.json is at {head['rowVersion']}",
                     disagree_with=files.head)
    latest = head["latestVersion"]
    if records.is_swap(tail.last):  # a policy's rollback made the version the head names active
        restored, previous = tail.last["restoredVersion"], tail.last["previousVersion"]
        if restored != head["activeVersion"] or not (1 <= restored <= latest and 1 <= previous <= latest):
            raise damage(files.audit, f"its last line, a rollback from v{previous} to v{restored}, does not "
                                      f"match flow.json (activeVersion {head['activeVersion']}, latestVersion "
                                      f"{latest})", disagree_with=files.head)
    _, entry, before = index_tail(files)
    indexed = entry.get("version") if entry else 0
    before_last = before.get("version") if before else 0
    if type(indexed) is not int or indexed != latest or (latest > 1 and before_last != latest - 1):
        raise damage(files.version_index, f"ends at v{indexed}, but flow.json says latestVersion {latest}",
                     disagree_with=files.head)
    if not latest:
        return
    snapshot = read_snapshot(files, head, latest, check=True)
    if entry != records.version_entry(snapshot):
        raise damage(files.version_index, f"its line for v{latest} disagrees with {files.snapshot(latest).name}",
                     disagree_with=files.snapshot(latest))
    last = tail.last or {}
    if last.get("action") in records.RELEASE_ACTIONS and last.get("version") == latest and (
        last != release_audit(snapshot, head["rowVersion"])
    ):
        raise damage(files.audit, f"its last line, the {last['action']} of v{latest}, disagrees with "
                                  f"{files.snapshot(latest).name}", disagree_with=files.snapshot(latest))


def rebuild_index(files: FlowFiles, head: Head) -> None:
    """Rewrite the version index from the snapshots, the only source of truth."""
    lines = b"".join(
        jsonio.compact_line(records.version_entry(read_snapshot(files, head, version)))
        for version in range(1, head["latestVersion"] + 1)
    )
    write_atomic(files.version_index, lines)


# -- writing -----------------------------------------------------------------


class _Transaction:
    """The writes of one operation up to its commit point, each one undone
    if the operation fails before it commits, so an error changes nothing.

    An OSError before the commit (a full disk, a read-only file system) is
    raised as StorageError (exit 74) once everything is taken back.
    """

    def __init__(self, files: FlowFiles) -> None:
        self.files = files
        self.undo: list[Callable[[], None]] = []
        self.committed = False

    def __enter__(self) -> _Transaction:
        return self

    def append(self, path: Path, line: bytes) -> None:
        """Append a line; undone by cutting the file back (or removing it, if new)."""
        size = file_size(path)
        self.undo.append(lambda: truncate(path, size) if size is not None else path.unlink())
        append_line(path, line)

    def stage(self, target: Path, data: bytes) -> Path:
        """A fsynced temp file that the commit (or what follows it) puts at `target`."""
        temp = write_temp(target, data)
        self.undo.append(lambda: temp.unlink(missing_ok=True))
        return temp

    def commit(self, step: Callable[[], None]) -> None:
        """Make the one step after which the change stands."""
        step()
        self.committed = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if exc_type is None or self.committed:
            return
        for step in reversed(self.undo):
            try:
                step()
            except OSError:
                pass  # what cannot be taken back is an uncommitted intent: recovery drops it
        if isinstance(exc, OSError):
            raise storage_error(exc, f"flow {self.files.dir.name!r} ({self.files.dir})") from None


def _after_commit(files: FlowFiles, what: str, *steps: Callable[[], None]) -> bool:
    """Run the steps that follow a commit point. The change already stands, so a
    failure here is not the command's failure: it is reported as IncompleteWrite
    and the next write (or `verify --repair`) finishes what is left."""
    try:
        for step in steps:
            step()
        return True
    except OSError as exc:
        reason, _ = io_reason(exc)
        warnings.warn(IncompleteWrite(
            f"{what} is done, but finishing it failed ({reason}); every command already shows it: "
            f"the next write to {files.dir.name!r}, or `flowctl verify --repair`, completes it"
        ), stacklevel=2)
        return False


def link_snapshot(staged: Path, target: Path) -> None:
    """The commit point of a release: link the staged snapshot to its final name,
    which `os.link` refuses if it exists, so even a writer that bypassed the
    lock cannot overwrite an immutable snapshot."""
    try:
        os.link(staged, target)
    except FileExistsError:
        raise Conflict(f"{target.name} already exists: another writer got there first; retry") from None


def commit_change(files: FlowFiles, audit: dict[str, Any], head: Head) -> None:
    """Write a change of the head (update): audit intent, then the head (commit)."""
    with _Transaction(files) as tx:
        tx.append(files.audit, jsonio.compact_line(audit))
        staged = tx.stage(files.head, jsonio.encode(head))
        tx.commit(lambda: os.replace(staged, files.head))
    _after_commit(files, f"rowVersion {head['rowVersion']} of flow {head['key']!r}", lambda: fsync_dir(files.dir))


def commit_release(files: FlowFiles, audit: dict[str, Any], snapshot: Snapshot, head: Head) -> None:
    """Write a new version (publish, rollback): audit intent, index line, the
    snapshot and head staged, then the snapshot's link (commit), then the head."""
    target = files.snapshot(snapshot["version"])
    if not files.versions.is_dir():  # an empty versions/ that git, which keeps no empty directory, dropped
        files.versions.mkdir(exist_ok=True)
        fsync_dir(files.dir)
    with _Transaction(files) as tx:
        tx.append(files.audit, jsonio.compact_line(audit))
        tx.append(files.version_index, jsonio.compact_line(records.version_entry(snapshot)))
        staged_snapshot = tx.stage(target, jsonio.encode(snapshot))
        staged_head = tx.stage(files.head, jsonio.encode(head))
        # Touch flow.json's times (not its bytes) just before the commit point: the
        # head cache (head_cache.py) stats only flow.json, and a release cut off
        # after the link is shown completed by readers (§7.4), so the cache must
        # re-read this head; within its racy window it re-reads it anyway.
        os.utime(files.head)
        tx.commit(lambda: link_snapshot(staged_snapshot, target))
    finished = _after_commit(
        files, f"v{snapshot['version']} of flow {head['key']!r}",
        lambda: staged_snapshot.unlink(),
        lambda: fsync_dir(files.versions),
        lambda: os.replace(staged_head, files.head),
        lambda: fsync_dir(files.dir),
    )
    if not finished:
        for temp in (staged_snapshot, staged_head):  # what is left of them: the next write finishes
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass


def create_flow(files: FlowFiles, head: Head, audit: dict[str, Any]) -> None:
    """Build the flow in a temp directory, then rename it into place (commit)."""
    import_flow(files, head, [], [audit])


def is_remnant(files: FlowFiles) -> bool:
    """Whether the flow's directory is what git leaves of a flow it deleted (a
    pull of a `delete`, a reset): no flow.json, only flowctl's untracked
    leftovers, its lock file and an empty versions/."""
    try:
        entries = set(os.listdir(files.dir))
    except OSError:
        return False
    if files.head.name in entries or not entries <= {files.lock.name, files.versions.name}:
        return False
    return files.versions.name not in entries or (not files.versions.is_symlink() and not os.listdir(files.versions))


def clear_remnant(files: FlowFiles) -> None:
    """Remove the directory if `is_remnant`; anything else there stays (and a
    create of the key then fails)."""
    if not is_remnant(files):
        return
    if files.versions.is_dir():
        files.versions.rmdir()
    files.lock.unlink(missing_ok=True)
    files.dir.rmdir()


def import_flow(files: FlowFiles, head: Head, snapshots: list[Snapshot], audit: list[dict[str, Any]]) -> None:
    """Create a flow with its whole history (`import`; `create` has none yet):
    built in a temp directory beside, then renamed into place (commit)."""
    staging = staging_name(files.dir)
    try:
        staging.mkdir()
        staged = FlowFiles(staging)
        staged.versions.mkdir()
        # Nobody sees the staging directory, so each file is written once and
        # fsynced (append_line creates it), and the directories once at the end.
        for snapshot in snapshots:
            append_line(staged.snapshot(snapshot["version"]), jsonio.encode(snapshot))
        if snapshots:
            entries = b"".join(jsonio.compact_line(records.version_entry(s)) for s in snapshots)
            append_line(staged.version_index, entries)
        write_atomic(staged.head, jsonio.encode(head))
        append_line(staged.audit, b"".join(jsonio.compact_line(entry) for entry in audit))
        fsync_dir(staged.versions)
        fsync_dir(staging)
        clear_remnant(files)
        os.rename(staging, files.dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if files.dir.exists():
            raise Conflict(f"flow {files.dir.name!r} already exists") from None
        raise storage_error(exc, f"flow {files.dir.name!r} ({files.dir})") from None
    _after_commit(files, f"flow {head['key']!r}", lambda: fsync_dir(files.dir.parent))


def delete_flow(files: FlowFiles) -> None:
    """Move the flow's directory out of the namespace (commit), then remove it."""
    doomed = staging_name(files.dir, "deleted-")
    try:
        os.rename(files.dir, doomed)
    except OSError as exc:
        raise storage_error(exc, f"flow {files.dir.name!r} ({files.dir})") from None
    # Committed: what is left (a concurrent `verify --repair` may be removing the
    # same stray directory) is a stray that verify --repair removes, not a failure.
    _after_commit(files, f"the deletion of {files.dir.name!r}", lambda: fsync_dir(files.dir.parent))
    shutil.rmtree(doomed, ignore_errors=True)

"""Reading a flow's files without a lock, trusting nothing that does not prove itself.

Readers take no lock and present the state a completed recovery would:
a release cut off after its commit point is shown completed, but only
when the snapshot proves it is one (`pending_release`). Every record is
checked before it is used (records.*_problem), so a hand edit or a bad
merge is one exit-8 line naming the file and the field, not a crash.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, NamedTuple, cast

from . import jsonio, kinds, records
from .errors import IntegrityError, NotFound
from .records import Head, Snapshot, VersionEntry
from .store import FlowFiles, open_nofollow, read_bytes, read_json

_TAIL_CHUNK = 64 * 1024


def damage(path: Path, problem: str, disagree_with: Path | None = None) -> IntegrityError:
    """The exit-8 error for a store file that is wrong, with a next step that works."""
    if disagree_with is None:
        return IntegrityError(f"{path}: {problem}: restore it from git (`git checkout -- {path}`), "
                              "then run `flowctl verify`")
    return IntegrityError(
        f"{path}: {problem}: a person must decide: {path.name} and {disagree_with.name} disagree "
        "(a bad merge or a hand edit?); restore the wrong one from git (`git checkout -- FILE`), "
        "then run `flowctl verify`"
    )


# -- JSON Lines tails ----------------------------------------------------------


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One JSON Lines record, or None when the bytes are not a JSON object."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def tail_lines(path: Path, count: int) -> tuple[int, list[tuple[int, bytes]], bytes]:
    """(file size, the last `count` complete lines as (offset, bytes), the bytes
    after the last newline). Reads only the end: a long history costs nothing."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0, [], b""
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise damage(path, "is a directory, not a file")
        size = os.fstat(fd).st_size
        chunk = _TAIL_CHUNK
        while True:
            start = max(0, size - chunk)
            data = os.pread(fd, size - start, start)
            end = data.rfind(b"\n")
            trailing = data[end + 1:]
            lines: list[tuple[int, bytes]] = []
            while end != -1 and len(lines) < count:
                begin = data.rfind(b"\n", 0, end) + 1
                if begin == 0 and start > 0:
                    break  # the line may begin before this chunk
                lines.insert(0, (start + begin, data[begin:end + 1]))
                end = begin - 1
            if len(lines) == count or start == 0:
                return size, lines, trailing
            chunk *= 2
    finally:
        os.close(fd)


class AuditTail(NamedTuple):
    """The last two audit lines (a last line that lacks only its newline counts)."""

    last: dict[str, Any] | None
    previous: dict[str, Any] | None
    last_offset: int


def audit_tail(files: FlowFiles) -> AuditTail:
    size, lines, trailing = tail_lines(files.audit, 2)
    entries = [(offset, line) for offset, line in lines]
    if trailing and parse_line(trailing) is not None:
        entries = [*entries[-1:], (size - len(trailing), trailing)]
    parsed = [(offset, parse_line(line)) for offset, line in entries]
    if not parsed:
        return AuditTail(None, None, 0)
    previous = parsed[-2][1] if len(parsed) > 1 else None
    return AuditTail(parsed[-1][1], previous, parsed[-1][0])


def index_tail(files: FlowFiles) -> tuple[int, dict[str, Any] | None, dict[str, Any] | None]:
    """(offset of the index's last line, that entry, the one before it)."""
    _, lines, _ = tail_lines(files.version_index, 2)
    if not lines:
        return 0, None, None
    previous = parse_line(lines[0][1]) if len(lines) > 1 else None
    return lines[-1][0], parse_line(lines[-1][1]), previous


def _lines(path: Path) -> list[bytes]:
    """Every line of a JSON Lines file (see _complete_lines)."""
    try:
        return _complete_lines(read_bytes(path))
    except FileNotFoundError:
        return []


def _complete_lines(raw: bytes) -> list[bytes]:
    """The lines of `raw`; a last line without its newline counts when it parses
    (it is complete), and is left out when it does not (torn)."""
    end = raw.rfind(b"\n") + 1
    lines = raw[:end].splitlines()
    if raw[end:] and parse_line(raw[end:]) is not None:
        lines.append(raw[end:])
    return lines


# -- the head, and a release cut off after its commit point ----------------------


def read_head(files: FlowFiles) -> Head:
    """The head as stored, checked; NotFound if the flow does not exist."""
    try:
        head = read_json(files.head)
    except FileNotFoundError:
        raise NotFound(f"no flow {files.dir.name!r}: see `flowctl list` for the flows of this tenant") from None
    problem = records.head_problem(head)
    if problem is None and (head["key"], head["tenantId"]) != (files.dir.name, files.dir.parent.name):
        problem = (f"says it is flow {head['tenantId']}/{head['key']}, "
                   f"but it lives at {files.dir.parent.name}/{files.dir.name}")
    if problem:
        raise damage(files.head, problem)
    return head  # type: ignore[no-any-return]


def release_audit(snapshot: Snapshot, row_version: int) -> dict[str, Any]:
    """The audit line of a release: what its write-ahead line must be."""
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


def _unproven(raw: bytes, head: Head, tail: AuditTail) -> tuple[str | None, Any]:
    """(why the file at latestVersion+1 is not a release cut off after its
    commit point, or None; the parsed snapshot)."""
    snapshot = parse_line(raw)
    if snapshot is None:
        return "it is not a JSON object", None
    problem = records.snapshot_problem(snapshot)
    if problem:
        return problem, None
    if snapshot["version"] != head["latestVersion"] + 1:
        return f"it says it is version {snapshot['version']}", None
    if (snapshot["flowId"], snapshot["key"], snapshot["tenantId"]) != (head["id"], head["key"], head["tenantId"]):
        return "its flowId/key/tenantId are not this flow's", None
    if jsonio.config_sha256(snapshot["configSnapshot"]) != snapshot["configSha256"]:
        return "its config does not match its configSha256", None
    if tail.last != release_audit(cast(Snapshot, snapshot), head["rowVersion"] + 1):
        return "the audit log does not end with its write-ahead line", None
    return None, snapshot


def examine_pending(files: FlowFiles, head: Head, tail: AuditTail | None = None) -> tuple[Snapshot | None, str | None]:
    """(the snapshot at latestVersion+1 when it proves to be a release cut off after
    its commit point — its version, flow, checksum and write-ahead audit line all
    agree —, else None; why a file there does not prove itself, else None)."""
    try:
        raw = read_bytes(files.snapshot(head["latestVersion"] + 1))
    except FileNotFoundError:
        return None, None
    problem, snapshot = _unproven(raw, head, tail or audit_tail(files))
    return (snapshot, None) if problem is None else (None, problem)


def pending_release(files: FlowFiles, head: Head, tail: AuditTail | None = None,
                    strict: bool = False) -> Snapshot | None:
    """The release cut off after its commit point, if there is one that proves
    itself (`examine_pending`). With `strict` (writers), a file there that does
    not prove itself is damage (exit 8): no command acts on it."""
    snapshot, problem = examine_pending(files, head, tail)
    if problem and strict:
        path = files.snapshot(head["latestVersion"] + 1)
        raise IntegrityError(f"{path}: lies past latestVersion {head['latestVersion']} but is not a release "
                             f"cut off here ({problem}): nothing was written: move it out of the store if it "
                             f"is not a release of this flow, or restore flow.json from git; "
                             "`flowctl verify` lists every problem")
    return snapshot


def current_head(files: FlowFiles) -> Head:
    """The head every command sees: completed forward if a release was cut off."""
    head = read_head(files)
    pending = pending_release(files, head)
    return records.head_after_release(head, pending) if pending else head


# -- versions and the audit log ---------------------------------------------------


def read_snapshot(files: FlowFiles, head: Head, version: int, check: bool = False) -> Snapshot:
    """Version `version` of the flow, checked; with `check`, its checksum too (exit 8)."""
    if not 1 <= version <= head["latestVersion"]:
        have = f"v1..v{head['latestVersion']}" if head["latestVersion"] else "no versions yet"
        raise NotFound(f"flow {head['key']!r} has no version {version} ({have}): see `flowctl versions {head['key']}`")
    path = files.snapshot(version)
    try:
        snapshot = read_json(path)
    except FileNotFoundError:
        raise damage(path, "is missing") from None
    problem = records.snapshot_problem(snapshot)
    if problem is None and snapshot["version"] != version:
        problem = f"says it is version {snapshot['version']}"
    if problem is None and (snapshot["flowId"], snapshot["key"]) != (head["id"], head["key"]):
        problem = "its flowId/key are not this flow's"
    if problem is None and snapshot.get("kind", "decision-flow") != head["kind"]:  # none: a decision flow's
        problem = f"it is a {snapshot.get('kind', 'decision-flow')} version, but flow.json says {head['kind']}"
    if problem is None and check and jsonio.config_sha256(snapshot["configSnapshot"]) != snapshot["configSha256"]:
        problem = "config does not match its configSha256 (damaged file)"
    if problem:
        raise damage(path, problem)
    return snapshot  # type: ignore[no-any-return]


def _good_entries(lines: list[bytes], latest: int, first: int = 1) -> list[Any]:
    """The entries of `lines` that are versions `first`, `first`+1, … in order, up
    to the first bad one."""
    good = []
    for number, line in enumerate(lines[:latest], start=first):
        entry = parse_line(line)
        if entry is None or entry.get("version") != number or records.entry_problem(entry):
            break
        good.append(entry)
    return good


def read_index(files: FlowFiles) -> list[dict[str, Any]]:
    """The version index as stored, up to its first line that is not JSON."""
    entries = []
    for line in _lines(files.version_index):
        entry = parse_line(line)
        if entry is None:
            break
        entries.append(entry)
    return entries


def read_index_lines(files: FlowFiles, head: Head) -> list[bytes] | None:
    """The index's lines as stored (no newline) when they are exactly versions
    1..latest and each is a sound entry, else None."""
    held = _sound_index(files, head)
    return None if held is None else held.splitlines()


def index_items(files: FlowFiles, head: Head) -> bytes | None:
    """`read_index_lines` joined by ", " (the items of `versions --json`), made
    from the index's bytes in one replace, not 10,000 line objects."""
    held = _sound_index(files, head)
    if held is None:
        return None
    if b"\r" in held:  # CRLF line ends (a checkout with autocrlf): line by line
        return b", ".join(held.splitlines())
    return held.rstrip(b"\n").replace(b"\n", b", ")


def _sound_index(files: FlowFiles, head: Head) -> bytes | None:
    """The index's first bytes holding exactly versions 1..latest, when each of
    those lines is a sound entry; else None. Lines that the index's seal
    (index_seal.py) vouches for are not parsed again; the others are, and then
    sealed for the next read."""
    from . import index_seal

    latest = head["latestVersion"]
    try:
        raw = read_bytes(files.version_index)
    except FileNotFoundError:
        raw = b""
    sealed = index_seal.vouched(files.version_index, raw)
    if sealed.lines > latest:  # an index past this head (a head put back by hand): judge it afresh
        sealed = index_seal.NOTHING
    rest = _complete_lines(raw[sealed.end:])[: latest - sealed.lines]
    if sealed.lines + len(rest) != latest or not _all_sound(rest, first=sealed.lines + 1):
        return None
    end = sealed.end
    for _ in rest:  # past each line's newline (CRLF too); a complete last line may have none
        end = raw.find(b"\n", end) + 1 or len(raw)
    if rest:
        index_seal.write(files.version_index, raw[:end], latest)
    return raw[:end]


def _all_sound(lines: list[bytes], first: int = 1) -> bool:
    """Whether `lines` are sound entries of versions `first`, `first`+1, … in order:
    parsed as one JSON array (one call into the C parser, not one per line) with a
    quick check of each entry's shape; anything unusual is judged line by line."""
    try:
        entries = json.loads(b"[" + b",".join(lines) + b"]")
    except (ValueError, RecursionError):
        entries = None
    if isinstance(entries, list) and len(entries) == len(lines) and \
            all(records.quick_entry_ok(entry, number) for number, entry in enumerate(entries, start=first)):
        return True
    return len(_good_entries(lines, len(lines), first)) == len(lines)


def read_index_tail(files: FlowFiles, head: Head, count: int) -> list[bytes]:
    """The index lines (no newline) of the newest `count` versions, oldest first,
    read from the end of the file (seeking back, as `tail` does), so the newest
    20 of 100,000 versions cost what they cost of 10. When those lines are not
    exactly sound entries of versions latest-count+1..latest (a line past
    latest from a write in flight is left out), the entries are taken the
    long way, as `read_versions` takes them."""
    latest = head["latestVersion"]
    count = min(count, latest)
    if count <= 0:
        return []
    _, lines, trailing = tail_lines(files.version_index, count + 1)
    candidates = [line for _, line in lines] + ([trailing] if trailing and parse_line(trailing) is not None else [])
    picked: list[bytes] = []
    for line in candidates:
        entry = parse_line(line)
        if entry is not None and entry.get("version") == latest - count + 1 + len(picked) \
                and records.entry_problem(entry) is None:
            picked.append(line.rstrip(b"\n"))
        elif picked or (entry is not None and entry.get("version") == latest + 1):
            break  # a gap, a damaged line, or the uncommitted line past latest
    if len(picked) == count:
        return picked
    return [jsonio.compact_line(entry).rstrip(b"\n") for entry in read_versions(files, head)[-count:]]


def read_versions(files: FlowFiles, head: Head) -> list[VersionEntry]:
    """Every version's entry, oldest first: from the index, and from the
    snapshots for whatever the index lacks (it is derived, they are the truth)."""
    latest = head["latestVersion"]
    result: list[VersionEntry] = _good_entries(_lines(files.version_index), latest)
    for version in range(len(result) + 1, latest + 1):
        result.append(records.version_entry(read_snapshot(files, head, version)))
    return result


def read_audit(files: FlowFiles, head: Head) -> list[dict[str, Any]]:
    """Committed audit entries, oldest first (an uncommitted intent left out)."""
    entries = []
    for number, line in enumerate(_lines(files.audit), start=1):
        entry = parse_line(line)
        problem = "is not a JSON object" if entry is None else records.audit_problem(entry)
        if problem:
            raise damage(files.audit, f"line {number} {problem}")
        if entry["rowVersion"] <= head["rowVersion"]:  # type: ignore[index]
            entries.append(entry)
    return entries  # type: ignore[return-value]


def versions_lines(files: FlowFiles, head: Head) -> list[bytes]:
    """Every version's entry of `head` as one compact JSON line (no newline),
    oldest first: straight from the index when it is sound, else rebuilt from
    the entries `read_versions` finds."""
    lines = read_index_lines(files, head)
    if lines is None:
        lines = [jsonio.compact_line(entry).rstrip(b"\n") for entry in read_versions(files, head)]
    return lines


def mark_lines(lines: list[bytes], head: Head, signed: bool, first: int = 1) -> list[bytes]:
    """Index lines (versions `first`, `first`+1, …) as `versions --json` items:
    with `signed`, an unsigned entry says `"signature": null`; a policy's each
    carry `active` (the policy versions endpoint's field). What the read API's
    Flow.versions_lines does for the whole list."""
    if signed:  # every signed line ends with its signature object
        lines = [line if line.endswith(b"}}") and b',"signature":{' in line else line[:-1] + b',"signature":null}'
                 for line in lines]
    if kinds.kind(head["kind"]).rollback == "swap":
        active = head["activeVersion"]
        lines = [line[:-1] + (b',"active":true}' if number == active else b',"active":false}')
                 for number, line in enumerate(lines, start=first)]
    return lines

"""verify's checks of a flow's two logs: the audit log and the version index.

Each published version is told three times: by its snapshot, by its line in
the derived index, and by its release line in the audit log. Where they
disagree, the finding names the file that is out of line and only says
`--repair` when repair can prove what is right: the index is derived, so
when the snapshot and the audit log agree, a stale index line is rebuilt;
any other disagreement is for a person to decide (a bad merge, a hand edit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import records
from .reading import parse_line, release_audit

if TYPE_CHECKING:
    from .verify import FlowState, Verifier

_SETTLE = "settle"
_REBUILD_INDEX = "rebuild-index"


def _split(verifier: Verifier, state: FlowState, raw: bytes, path: Any) -> list[bytes]:
    """The complete lines of a log, with a finding for a last line without its newline."""
    end = raw.rfind(b"\n") + 1
    lines = raw[:end].split(b"\n")[:-1]
    trailing = raw[end:]
    if trailing and parse_line(trailing) is not None:
        verifier.add(state.key, path, "last line lacks its newline: `flowctl verify --repair` adds it", _SETTLE)
        lines.append(trailing)
    elif trailing:
        verifier.add(state.key, path, "last line is torn (an interrupted write): "
                                      "`flowctl verify --repair` removes it", _SETTLE)
    return lines


def _release_facts(line: dict[str, Any]) -> tuple[Any, ...]:
    """What an audit release line says of its version, comparable with an index entry."""
    return (line.get("at"), line.get("actor"), line.get("notes", ""), line.get("action"),
            line.get("restoredVersion"), line.get("previousVersion"))


def _entry_facts(entry: dict[str, Any]) -> tuple[Any, ...]:
    source = entry["source"]
    return (entry["publishedAt"], entry["publishedBy"], entry["notes"], source.get("action"),
            source.get("restoredVersion"), source.get("previousVersion"))


def check_audit(verifier: Verifier, state: FlowState) -> None:
    """Lines parse and are audit entries; rowVersions run 1, 2, … up to the head's;
    one release line per version, agreeing with its snapshot."""
    path, key = state.files.audit, state.key
    raw = verifier.read(key, path)
    if raw is None:
        return
    if not raw:
        verifier.restore(key, path, "audit log is missing or empty")
        return
    lines = _split(verifier, state, raw, path)
    head_row = state.head.get("rowVersion") if type(state.head.get("rowVersion")) is int else None
    contiguous = True
    last_row = 0
    made_active: int | None = None  # the version the last release or swap made active
    for number, line in enumerate(lines, start=1):
        entry = parse_line(line)
        problem = "is not valid JSON" if entry is None else records.audit_problem(entry)
        if problem or entry is None:
            verifier.restore(key, path, f"line {number} {problem}")
            contiguous = False
            continue
        row = entry["rowVersion"]
        if contiguous and row != number:
            contiguous = False
            gap = (f"rowVersion {row} where {number} was expected: {row - number} line(s) before it are missing"
                   if row > number else f"rowVersion {row} repeats or goes back (expected {number})")
            verifier.restore(key, path, f"line {number}: {gap}")
        last_row = row
        if head_row is not None and row > head_row:
            _newer_than_head(verifier, state, number, len(lines), row, head_row, contiguous)
            continue
        if records.releases_version(entry):
            _release_line(verifier, state, number, entry)
            made_active = entry["version"]
        elif records.is_swap(entry):
            made_active = _swap_line(verifier, state, number, entry, made_active)
    if head_row is not None and contiguous and last_row < head_row:
        verifier.decide(key, path, f"ends at rowVersion {last_row}, but flow.json is at {head_row} "
                                   "(lines missing at the end?)", state.files.head)
    active = state.head.get("activeVersion")
    if contiguous and made_active is not None and type(active) is int and active != made_active:
        verifier.decide(key, state.files.head, f"activeVersion is {active}, but the audit log's last release "
                                               f"made v{made_active} active", path)
    have = {version for version in state.released if 1 <= version <= state.latest}
    if len(have) < state.latest:
        missing = [v for v in range(1, min(state.latest, len(have) + 5) + 1) if v not in have][:5]
        shown = ", ".join(f"v{v}" for v in missing) + (" …" if state.latest - len(have) > 5 else "")
        verifier.restore(key, path, f"no publish/rollback line for {shown}")


def _newer_than_head(verifier: Verifier, state: FlowState, number: int, count: int, row: int,
                     head_row: int, contiguous: bool) -> None:
    """A line past the head's rowVersion: the write-ahead line of a change cut
    off (repair settles it) only if it is the last line and the very next row."""
    path = state.files.audit
    if number == count and row == head_row + 1 and contiguous:
        state.cut_off = True
        verifier.add(state.key, path, f"line {number}: rowVersion {row} is newer than the head "
                                      "(an uncommitted change): `flowctl verify --repair` settles it", _SETTLE)
    else:
        verifier.decide(state.key, path, f"line {number}: rowVersion {row} is newer than flow.json's "
                                         f"{head_row}", state.files.head)


def _release_line(verifier: Verifier, state: FlowState, number: int, entry: dict[str, Any]) -> None:
    path, version = state.files.audit, entry["version"]
    if not 1 <= version <= state.latest:
        verifier.decide(state.key, path, f"line {number}: the {entry['action']} of v{version}, which does "
                                         f"not exist (latestVersion {state.latest})", state.files.head)
        return
    if version in state.released:
        verifier.restore(state.key, path, f"line {number}: a second {entry['action']} line for v{version}")
        return
    state.released[version] = entry
    state.audit_lines[version] = number


def _swap_line(verifier: Verifier, state: FlowState, number: int, entry: dict[str, Any],
               active: int | None) -> int | None:
    """A policy's rollback: it made an existing version active again, from the one then active."""
    restored: int = entry["restoredVersion"]
    previous: int = entry["previousVersion"]
    if not (1 <= restored <= state.latest and 1 <= previous <= state.latest):
        verifier.decide(state.key, state.files.audit, f"line {number}: a rollback from v{previous} to "
                                                      f"v{restored}, which do not both exist (latestVersion "
                                                      f"{state.latest})", state.files.head)
        return active
    state.swaps.append((number, entry))
    if active is not None and previous != active:
        verifier.decide(state.key, state.files.audit, f"line {number}: a rollback from v{previous}, but v{active} "
                                                      "was active then", state.files.head)
    return restored


def check_index(verifier: Verifier, state: FlowState) -> None:
    """The index holds one sound line per version, agreeing with the snapshots;
    each release line agrees with its snapshot (compared here, with the index as
    the third witness)."""
    path, key = state.files.version_index, state.key
    raw = verifier.read(key, path)
    if raw is None:
        return
    fix = _REBUILD_INDEX if state.snapshots_sound else None
    advice = ": `flowctl verify --repair` rebuilds it from the snapshots" if fix else \
             ": it can be rebuilt from the snapshots once flow.json and the snapshots named here are sound"
    lines = _split(verifier, state, raw, path)
    if state.cut_off and len(lines) == state.latest + 1:
        lines = lines[:-1]  # the line of the release cut off: settled with it
    if len(lines) != state.latest:
        verifier.add(key, path, f"has {len(lines)} lines for {state.latest} versions{advice}", fix)
    # Only versions some file tells of: a hand-edited latestVersion of 10**12 is not walked.
    told = set(range(1, min(len(lines), state.latest) + 1)) | set(state.snapshots)
    for version in sorted(told):
        entry = parse_line(lines[version - 1]) if version <= len(lines) else None
        if version <= len(lines) and (entry is None or entry.get("version") != version
                                      or records.entry_problem(entry)):
            verifier.add(key, path, f"line {version} is damaged{advice}", fix)
            entry = None
        _three_witnesses(verifier, state, version, entry, advice, fix)


def _three_witnesses(verifier: Verifier, state: FlowState, version: int, entry: dict[str, Any] | None,
                     advice: str, fix: str | None) -> None:
    """Compare a version's snapshot, index line and audit line; name the odd one out."""
    snapshot = state.snapshots.get(version)
    if snapshot is None:
        return  # missing or damaged: reported with the snapshots
    files, key = state.files, state.key
    line = state.released.get(version)
    audit_agrees = line is not None and line == release_audit(snapshot, line["rowVersion"])  # type: ignore[arg-type]
    index_agrees = entry is None or entry == records.version_entry(snapshot)
    if index_agrees and (audit_agrees or line is None):
        return
    snapshot_path = files.snapshot(version)
    where = f"line {state.audit_lines.get(version)}, the {line['action']} of v{version}," if line else ""
    signed = records.version_entry(snapshot).get("signature")
    if entry is not None and entry.get("signature") != signed:
        # The audit log does not tell of signatures: rebuilding the index from the snapshot
        # would erase the last record that this version was signed, so a person decides.
        verifier.decide(key, snapshot_path, f"who signed v{version} differs from its line in versions.jsonl "
                                            "(a signature removed or replaced?)", files.version_index)
        return
    if audit_agrees:
        verifier.add(key, files.version_index, f"disagrees with the snapshots: line {version} differs from "
                                       f"{snapshot_path.name}, which the audit log confirms{advice}", fix)
    elif index_agrees and entry is not None:
        verifier.decide(key, files.audit, f"{where} disagrees with {snapshot_path.name} "
                                          "(versions.jsonl sides with the snapshot)", snapshot_path)
    elif entry is not None and line is not None and _release_facts(line) == _entry_facts(entry):
        verifier.decide(key, snapshot_path, "disagrees with its lines in versions.jsonl and audit.jsonl, "
                                            "which agree with each other (was the snapshot edited?)", files.audit)
    else:
        verifier.decide(key, files.audit, f"{where} disagrees with {snapshot_path.name}", snapshot_path)

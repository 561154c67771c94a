"""Publish and rollback: the writes that change which version is live.

Both take the flow's lock, complete or drop what a crash left, re-read the
head under the lock and check every precondition before writing anything.
How a rollback goes depends on the kind (`kinds.Kind.rollback`):

* `append` (decision flows, workflows): version latest+1 is written with the
  target's config, notes "Rollback to vK: …", and made active;
* `swap` (policies): the target becomes the active version again and the
  draft its config; no snapshot is written, the audit log records the swap
  (docs/contract.md §5 `rollback`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import journal, kinds, reading, records
from .errors import Conflict, Forbidden, NotFound
from .records import Head, Snapshot
from .store import FlowFiles

if TYPE_CHECKING:
    from .flows import Flows
    from .signatures import Signer


class Release(NamedTuple):
    """What a publish or rollback wrote (or, with dry_run, would write).

    `snapshot` is the version now active: the one written, or, for a policy's
    rollback (`swapped`), the existing version made active again."""

    head: Head
    snapshot: Snapshot
    previous_version: int | None
    previous_config: dict[str, Any] | None
    dry_run: bool = False
    swapped: bool = False


class _Releaser(NamedTuple):
    """Who makes a release, and the key that signs it (docs/contract.md §7.8)."""

    actor: str
    at: str
    signer: Signer | None


def _releaser(flows: Flows, action: str, signing_key: Path | None) -> _Releaser:
    """The release's actor — the signer's principal when a key signs it — once it
    is allowed to do `action`. Costs nothing for a store without [access] and [signing]."""
    at = records.now()
    signer = None
    if signing_key is not None or "signing" in flows.store.settings:
        from . import signatures

        signer = signatures.signer(flows.store, signing_key, at, flows.actor)
    actor = signer.principal if signer else flows.actor
    try:
        flows.authorize(action, actor)
    except Forbidden as exc:
        if signer is None:
            raise
        # Signed, the key decides who releases: --actor cannot help, another key can.
        raise Forbidden(exc.message, hint="sign with the key of a principal who holds it "
                                          "(--signing-key KEY)") from None
    return _Releaser(actor, at, signer)


@contextmanager
def _locked(flows: Flows, flow: str, *, row_version: int | None, dry_run: bool) -> Iterator[tuple[FlowFiles, Head]]:
    """The flow's files and head under its lock, as every release starts: what a crash
    cut off completed or dropped (a dry run only previews that), --row-version checked."""
    files = flows.resolve(flow)
    with flows.store.flow_lock(files, flows.lock_timeout):
        head = journal.preview(files) if dry_run else journal.recover(files)
        flows.check_row_version(head, row_version)
        yield files, head


def publish(flows: Flows, flow: str, *, notes: str, row_version: int | None, dry_run: bool,
            signing_key: Path | None = None) -> Release:
    """Snapshot the draft as version latest+1 and make it active."""
    flows.check_notes(notes)
    releaser = _releaser(flows, "publish", signing_key)
    with _locked(flows, flow, row_version=row_version, dry_run=dry_run) as (files, head):
        draft = head["draftConfig"]
        kinds.rules(head["kind"]).check_publishable(draft)
        return _append(releaser, files, head, draft, notes=notes, source={"action": "publish"}, dry_run=dry_run)


def rollback(flows: Flows, flow: str, *, version: int | None, notes: str, expected_current_version: int | None,
             row_version: int | None, dry_run: bool, signing_key: Path | None = None) -> Release:
    """Go back to `version` (default: the version just below the active one)."""
    flows.check_notes(notes)
    releaser = _releaser(flows, "rollback", signing_key)
    with _locked(flows, flow, row_version=row_version, dry_run=dry_run) as (files, head):
        kind = kinds.kind(head["kind"])
        key, active = head["key"], head["activeVersion"]
        named = f"{kind.noun} {key!r}"
        if expected_current_version is not None and expected_current_version != active:
            why = "someone released meanwhile" if expected_current_version <= head["latestVersion"] \
                else f"there is no v{expected_current_version}"
            raise Conflict(f"{named} has active version {_v(active)}, not v{expected_current_version}: "
                           f"{why}; check `flowctl versions` and retry")
        if active is None:
            raise NotFound(f"{named} has no published version: nothing to roll back to")
        if version is None:
            if active <= 1:
                raise NotFound(f"{named} has no version before v{active} to go back to")
            version = active - 1
        if version == active:
            if kind.rollback == "swap":  # the policy API's own words
                raise Conflict(f"Version {version} is already the active version for {named}")
            raise Conflict(f"v{version} is already the active version of {named}: nothing to roll back")
        target = reading.read_snapshot(files, head, version, check=True)
        current = reading.read_snapshot(files, head, active)
        if kind.rollback == "swap":
            return _swap(releaser, files, head, target, current, notes=notes, dry_run=dry_run)
        if current["configSha256"] == target["configSha256"]:
            raise Conflict(f"the active version v{active} of {named} already has v{version}'s config: "
                           "no version written")
        label = f"Rollback to v{version}"
        return _append(releaser, files, head, target["configSnapshot"], notes=f"{label}: {notes}" if notes else label,
                       source={"action": "rollback", "restoredVersion": version, "previousVersion": active},
                       dry_run=dry_run, previous=current)


def _append(releaser: _Releaser, files: FlowFiles, head: Head, config: dict[str, Any], *, notes: str,
            source: dict[str, Any], dry_run: bool, previous: Snapshot | None = None) -> Release:
    """Write version latest+1 holding `config` and make it active (signed, with a signer)."""
    active = head["activeVersion"]
    if previous is None and active is not None:
        previous = reading.read_snapshot(files, head, active)
    snapshot = records.new_snapshot(
        head,
        version=head["latestVersion"] + 1,
        at=releaser.at,
        actor=releaser.actor,
        notes=notes,
        source=source,
        summary=kinds.rules(head["kind"]).summary(config),
        config=config,
    )
    if releaser.signer is not None and not dry_run:
        from .signatures import release_facts

        snapshot["signature"] = releaser.signer.sign(release_facts(dict(snapshot)))  # type: ignore[typeddict-unknown-key]
    new = records.head_after_release(head, snapshot)
    if not dry_run:
        journal.commit_release(files, reading.release_audit(snapshot, new["rowVersion"]), snapshot, new)
    return Release(new, snapshot, active, previous["configSnapshot"] if previous else None, dry_run)


def _swap(releaser: _Releaser, files: FlowFiles, head: Head, target: Snapshot, current: Snapshot, *, notes: str,
          dry_run: bool) -> Release:
    """Make `target` the active version again: head and audit line only (the line signed, with a signer)."""
    at, actor = releaser.at, releaser.actor
    new = records.changed_head(head, at, actor, status="active", draftConfig=target["configSnapshot"],
                               activeVersion=target["version"])
    if not dry_run:
        audit = records.audit_entry(at, actor, "rollback", new["rowVersion"],
                                    restoredVersion=target["version"], previousVersion=current["version"],
                                    notes=notes or None)
        if releaser.signer is not None:
            from .signatures import swap_facts

            audit["signature"] = releaser.signer.sign(swap_facts(dict(head), audit, target["configSha256"]))
        journal.commit_change(files, audit, new)
    return Release(new, target, current["version"], current["configSnapshot"], dry_run, swapped=True)


def _v(version: int | None) -> str:
    return f"v{version}" if version is not None else "none"

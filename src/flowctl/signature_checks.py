"""verify's checks of signed releases (docs/contract.md §7.8), for a store
with `[signing]`: each signature against allowed_signers as of the
release's own time and against the release's facts as stored, and, with
`required = true`, that no release is missing one.

A release needs a signature when signing is required and it was published
at or after `[signing] since`, or, without `since`, after the flow's first
signed release: turning signing on never fails the versions released
before. A signer who no longer holds the role the release needed is a
note, not a failure: people leave teams, their releases stay valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import signatures, signing
from .errors import FlowctlError

if TYPE_CHECKING:
    from .signatures import SigningSettings
    from .verify import FlowState, Verifier


def check_signatures(verifier: Verifier, state: FlowState) -> None:
    """Every signed release of the flow proves itself; every required one is signed."""
    settings = signatures.settings_of(verifier.store)
    if settings is None:
        return
    try:
        signing.check_allowed_signers(settings.allowed_signers)
    except FlowctlError as exc:
        verifier.add(state.key, settings.allowed_signers, exc.message)
        return
    releases = _releases(state.head, state.snapshots, state.swaps, _rows(state))  # read once, for both passes
    for where, problem in release_problems(settings, releases):
        path = state.files.audit if isinstance(where, tuple) else state.files.snapshot(where)
        verifier.add(state.key, path, problem)
    if "access" in verifier.store.settings:
        _role_notes(verifier, state, releases)


Where = int | tuple[int, int]  # a version's snapshot, or (audit line number, restored version) of a swap
Release = tuple[Where, str, dict[str, Any], Any]  # (where, label, facts, signature)


def _rows(state: FlowState) -> dict[int, int]:
    """version → the rowVersion of its release line in the audit log."""
    return {version: line["rowVersion"] for version, line in state.released.items()}


def _releases(head: dict[str, Any], snapshots: dict[int, dict[str, Any]], swaps: list[tuple[int, dict[str, Any]]],
              rows: dict[int, int]) -> list[Release]:
    """Every release of the flow in the order they were made (by their audit lines'
    rowVersions, which run without gaps): (where, label, facts, signature)."""
    found: list[tuple[int, Where, str, dict[str, Any], Any]] = [
        (rows.get(version, 0), version, f"v{version}", signatures.release_facts(snapshot), snapshot.get("signature"))
        for version, snapshot in sorted(snapshots.items())]
    for number, line in swaps:
        restored = snapshots.get(line["restoredVersion"])
        if restored is not None:
            found.append((line["rowVersion"], (number, line["restoredVersion"]),
                          f"line {number}, the rollback to v{line['restoredVersion']}",
                          signatures.swap_facts(head, line, restored["configSha256"]), line.get("signature")))
    found.sort(key=lambda release: release[0])
    return [release[1:] for release in found]


def bundle_problems(settings: SigningSettings, head: dict[str, Any], snapshots: dict[int, dict[str, Any]],
                    swaps: list[tuple[int, dict[str, Any]]], rows: dict[int, int]) -> list[tuple[Where, str]]:
    """`release_problems` of a flow given by its records (an import's bundle)."""
    return release_problems(settings, _releases(head, snapshots, swaps, rows))


def release_problems(settings: SigningSettings, releases: list[Release]) -> list[tuple[Where, str]]:
    """(where, `vN: reason`) for each release whose signature fails or is missing when required."""
    problems: list[tuple[Where, str]] = []
    since_version: int | None = None  # the flow's first signed release
    for where, label, facts, signature in releases:
        if signature is None:
            reason = _required(settings, facts, since_version)
            if reason:
                problems.append((where, f"{label}: no signature (signing required since {reason}): "
                                        "restore the signed file from git"))
            continue
        since_version = since_version or (where if isinstance(where, int) else where[1])
        problem = signatures.check(settings, facts, signature)
        if problem:
            problems.append((where, f"{label}: {problem}"))
    return problems


def _required(settings: SigningSettings, facts: dict[str, Any], since_version: int | None) -> str | None:
    """Since when (`v3`, or the `since` time) this unsigned release needed a signature, or None."""
    if not settings.required:
        return None
    if settings.since is not None and str(facts["publishedAt"]) >= settings.since:
        return settings.since
    return f"v{since_version}" if since_version is not None else None


def _role_notes(verifier: Verifier, state: FlowState, releases: list[Release]) -> None:
    """A note for each signed release whose signer lacks, today, the role it needed."""
    from .access import AccessPolicy

    policy = AccessPolicy.from_settings(verifier.store.settings)
    for where, label, facts, signature in releases:
        action, signer = str(facts["action"]), str(facts["publishedBy"])
        if signature is None or policy is None or policy.allows(signer, action, verifier.tenant):
            continue
        path = state.files.audit if isinstance(where, tuple) else state.files.snapshot(where)
        verifier.note(state.key, path, f"{label}: signed by {signer}, who no longer holds the "
                                       f"{policy.required_role(action, verifier.tenant)} role a {action} needs "
                                       "(the release stays valid)")

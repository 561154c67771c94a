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
    since_version: int | None = None  # the flow's first signed release
    releases: list[tuple[int, Any, dict[str, Any], dict[str, Any] | None]] = [
        (version, state.files.snapshot(version), signatures.release_facts(snapshot), snapshot.get("signature"))
        for version, snapshot in sorted(state.snapshots.items())]
    for number, line in state.swaps:
        restored = state.snapshots.get(line["restoredVersion"])
        if restored is not None:
            facts = signatures.swap_facts(state.head, line, restored["configSha256"])
            releases.append((line["restoredVersion"], (state.files.audit, number), facts, line.get("signature")))
    releases.sort(key=lambda release: str(release[2]["publishedAt"]))
    for version, where, facts, signature in releases:
        path, label = (where[0], f"line {where[1]}, the rollback to v{version}") if isinstance(where, tuple) \
            else (where, f"v{version}")
        if signature is None:
            reason = _required(settings, facts, since_version)
            if reason:
                verifier.add(state.key, path, f"{label}: no signature (signing required since {reason})")
            continue
        since_version = since_version or version
        problem = signatures.check(settings, facts, signature)
        if problem:
            verifier.add(state.key, path, f"{label}: {problem}: restore it from git, or release again")
        else:
            _role_note(verifier, state, path, label, facts)


def _required(settings: SigningSettings, facts: dict[str, Any], since_version: int | None) -> str | None:
    """Since when (`v3`, or the `since` time) this unsigned release needed a signature, or None."""
    if not settings.required:
        return None
    if settings.since is not None and str(facts["publishedAt"]) >= settings.since:
        return settings.since
    return f"v{since_version}" if since_version is not None else None


def _role_note(verifier: Verifier, state: FlowState, path: Any, label: str, facts: dict[str, Any]) -> None:
    """A note when the signer lacks, today, the role the release needed."""
    if "access" not in verifier.store.settings:
        return
    from .access import AccessPolicy

    policy = AccessPolicy.from_settings(verifier.store.settings)
    action = str(facts["action"])
    if policy is not None and not policy.allows(str(facts["publishedBy"]), action, verifier.tenant):
        role = policy.required_role(action, verifier.tenant)
        verifier.note(state.key, path, f"{label}: signed by {facts['publishedBy']}, who no longer holds the "
                                       f"{role} role a {action} needs (the release stays valid)")

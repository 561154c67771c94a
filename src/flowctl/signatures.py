"""Signed releases in the store (docs/contract.md §7.8): the `[signing]`
settings, what a release's signature covers, who signs, and checking it.

A release's signature is a field of the record that the release creates
exclusively and never modifies: the snapshot's last field `signature` for a
publish or an appending rollback, the audit line's last field for a
policy's rollback (which writes no snapshot). So a signature lands with its
release at the release's one commit point, travels with `export`, and is
reviewed in git like the rest. It is `{"principal", "keyFingerprint",
"sshsig"}`; `sshsig` is `ssh-keygen -Y sign`'s armored signature (namespace
`flowctl`) of `signing.canonical_release(fields)`, the fields being every
fact of the release (below) but the signature itself.

Who signed is not taken on trust: the principal is what `ssh-keygen -Y
find-principals` says of the key against allowed_signers, and it becomes the
release's actor (publishedBy). ssh-keygen does all the cryptography.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import jsonio, signing
from .errors import BadInput, Forbidden, IntegrityError
from .store import Store

DEFAULT_ALLOWED_SIGNERS = ".flowctl/allowed_signers"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z\Z")
_RELEASE_FACTS = ("flowId", "tenantId", "key", "kind", "version", "configSha256", "publishedBy", "publishedAt",
                  "notes")


@dataclass(frozen=True)
class SigningSettings:
    """`[signing]` of flowctl.toml."""

    required: bool
    allowed_signers: Path
    since: str | None
    """Releases published before this time need no signature (signing turned on later)."""


def settings_of(store: Store) -> SigningSettings | None:
    """The store's [signing] table, checked; None without one (IntegrityError, exit 8, for a bad one)."""
    table, where = store.settings_table("signing", ("required", "allowed_signers", "since"),
                                        hint="write [signing] with required and allowed_signers")
    if table is None:
        return None
    required, path, since = table.get("required", False), table.get("allowed_signers"), table.get("since")
    if not isinstance(required, bool):
        raise IntegrityError(f"{where} required must be true or false")
    if path is None:
        path = DEFAULT_ALLOWED_SIGNERS
    inside = store.root / path if isinstance(path, str) and path else None
    if inside is None or Path(path).is_absolute() or not inside.resolve().is_relative_to(store.root.resolve()):
        raise IntegrityError(f"{where} allowed_signers must be a path inside the store, relative to its root "
                             f"(like \"{DEFAULT_ALLOWED_SIGNERS}\"), so it is committed and reviewed with it")
    if since is not None and not (isinstance(since, str) and _TIME.match(since) and _real_time(since)):
        raise IntegrityError(f"{where} since must be a UTC time like \"2026-05-01T00:00:00Z\"")
    if since is not None and len(since) == 20:  # compared as text with publishedAt, which has milliseconds
        since = since[:19] + ".000Z"
    return SigningSettings(required, inside, since)


def _real_time(text: str) -> bool:
    """Whether an ISO 8601 UTC time names a real moment (no month 13)."""
    from datetime import datetime

    try:
        datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def release_facts(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot release's signature covers: the flow, the version and its
    config's checksum, how it was made (action, restored and previous versions),
    who, when and why."""
    facts = {field: snapshot.get(field, "decision-flow" if field == "kind" else None) for field in _RELEASE_FACTS}
    source: dict[str, Any] = snapshot["source"] if isinstance(snapshot.get("source"), dict) else {}
    facts.update(action=source.get("action"), restoredVersion=source.get("restoredVersion"),
                 previousVersion=source.get("previousVersion"))
    return facts


def swap_facts(head: dict[str, Any], line: dict[str, Any], config_sha256: str) -> dict[str, Any]:
    """What a policy rollback's signature covers: the flow, the versions swapped, the
    restored config's checksum, the audit line's rowVersion, who, when and why."""
    return {"flowId": head.get("id"), "tenantId": head.get("tenantId"), "key": head.get("key"),
            "kind": head.get("kind"), "rowVersion": line.get("rowVersion"), "configSha256": config_sha256,
            "action": "rollback", "restoredVersion": line.get("restoredVersion"),
            "previousVersion": line.get("previousVersion"), "publishedBy": line.get("actor"),
            "publishedAt": line.get("at"), "notes": line.get("notes", "")}


@dataclass(frozen=True)
class Signer:
    """A key that signs releases, and whom allowed_signers says it belongs to."""

    key: Path
    principal: str
    fingerprint: str

    def sign(self, facts: dict[str, Any]) -> dict[str, str]:
        """The signature record of a release with these facts."""
        sshsig = signing.sign(signing.canonical_release(facts), self.key)
        return {"principal": self.principal, "keyFingerprint": self.fingerprint, "sshsig": sshsig}


def signer(store: Store, key: Path | None, at: str, actor: str) -> Signer | None:
    """Who signs a release made at `at`: None without a key (Forbidden when the store
    requires signed releases); else the key's principal in allowed_signers as of `at`
    (Forbidden when it has none). With several principals, the actor's if among them."""
    settings = settings_of(store)
    if key is None:
        if settings is not None and settings.required:
            raise Forbidden("this store requires signed releases ([signing] required = true in flowctl.toml)",
                            hint="give --signing-key KEY (or set FLOWCTL_SIGNING_KEY)")
        return None
    if settings is None:
        raise BadInput("--signing-key needs [signing] in flowctl.toml: its allowed_signers file says whose key "
                       "it is", hint=f"add [signing] with allowed_signers = \"{DEFAULT_ALLOWED_SIGNERS}\"")
    signing.check_allowed_signers(settings.allowed_signers)
    probe = signing.sign(signing.DOMAIN + b"which principal holds this key?", key)
    principals = signing.find_principals(probe, settings.allowed_signers, at)
    fingerprint = signing.fingerprint(key)
    if not principals:
        raise Forbidden(f"the signing key {fingerprint} ({key}) is not in {settings.allowed_signers} as valid "
                        f"on {at[:10]}: nobody may release with it",
                        hint="add a line 'NAME KEY' for it to allowed_signers (see the README)")
    principal = actor if actor in principals else principals[0]
    return Signer(key, principal, fingerprint)


def summary(signature: Any) -> dict[str, Any] | None:
    """What `versions` shows of a signature: principal and key fingerprint."""
    if not isinstance(signature, dict):
        return None
    return {"principal": signature.get("principal"), "keyFingerprint": signature.get("keyFingerprint")}


_RESTORE = "restore it from git"


def check(settings: SigningSettings, facts: dict[str, Any], signature: dict[str, Any]) -> str | None:
    """Why `signature` does not prove a release with `facts`, with what to do, in
    verify's words; None when it does. Never raises for what the record holds."""
    principal = signature["principal"]
    if principal != facts["publishedBy"]:
        return (f"signed by {jsonio.shown(principal)} but published by {jsonio.shown(str(facts['publishedBy']))}: "
                f"{_RESTORE}")
    try:
        result = signing.verify(signing.canonical_release(facts), signature["sshsig"], principal,
                                settings.allowed_signers, at=facts["publishedAt"])
    except IntegrityError as exc:  # an oversized or unreadable signature: this release's damage only
        return f"{exc.message}: {_RESTORE}"
    except ValueError:  # facts JSON cannot encode (NaN): the record is damaged
        return f"the release cannot be encoded to check it: {_RESTORE}"
    if result.ok:
        return None
    if result.code == "content-changed":
        return f"content changed after signing: {_RESTORE}"
    fix = f"fix {settings.allowed_signers.name} if the key is {principal}'s, else {_RESTORE}"
    if result.code == "not-valid-then":
        return f"{principal}'s key was not valid on {str(facts['publishedAt'])[:10]}: {fix}"
    if result.code in ("malformed", "other-namespace"):
        return f"{result.reason}: {_RESTORE}"
    return f"{result.reason}: {fix}"

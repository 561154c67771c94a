"""The three records of the store: flow head, version snapshot, audit entry.

Records are plain dicts whose key order is the field order of docs/contract.md §3, so
they serialise byte-stably. The TypedDicts document the shape (and let
`verify` check it with pydantic); building and reading them costs nothing
on the read paths, which import neither pydantic nor rich.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, cast

from . import jsonio
from .kinds import DEFAULT_KIND, KINDS, PAUSED_REASONS

STATUSES = ("active", "draft", "paused", "archived")  # also the `list` order
Status = Literal["draft", "active", "paused", "archived"]


class Head(TypedDict):
    id: str
    tenantId: str
    key: str
    name: str
    description: str
    kind: str  # a key of kinds.KINDS; a workflow head adds pausedReason after status
    status: Status
    autoAssembly: bool
    draftConfig: dict[str, Any]
    activeVersion: int | None
    latestVersion: int
    rowVersion: int
    createdAt: str
    createdBy: str
    updatedAt: str
    updatedBy: str


Summary = dict[str, Any]  # the kind's summary fields (kinds.Kind.columns)


class Snapshot(TypedDict):
    flowId: str
    tenantId: str
    key: str
    kind: str  # absent in snapshots written before kinds existed: those are decision flows
    version: int
    publishedAt: str
    publishedBy: str  # a workflow snapshot adds versionCreatedBy after it
    notes: str
    source: dict[str, Any]
    summary: Summary
    configSha256: str
    configSnapshot: dict[str, Any]


class VersionEntry(TypedDict):
    """One line of the version index and one item of `versions --json`."""

    version: int
    publishedAt: str
    publishedBy: str
    notes: str
    source: dict[str, Any]
    summary: Summary


INDEX_FIELDS = tuple(VersionEntry.__annotations__)
HEAD_FIELDS = tuple(Head.__annotations__)
SNAPSHOT_FIELDS = tuple(Snapshot.__annotations__)
CREATOR_FIELD = "versionCreatedBy"  # a workflow snapshot's publisher, stamped once (docs/contract.md §3.2)


def head_fields(kind: str) -> tuple[str, ...]:
    """The fields of a head of `kind`, in order: the kind's own after `status`."""
    extras = tuple(KINDS[kind].head_fields) if kind in KINDS else ()
    at = HEAD_FIELDS.index("status") + 1
    return HEAD_FIELDS[:at] + extras + HEAD_FIELDS[at:]


def snapshot_fields(snapshot: dict[str, Any]) -> tuple[str, ...]:
    """The fields a snapshot must have, in order: `kind` unless it was written
    before kinds existed, and a workflow's versionCreatedBy after publishedBy."""
    fields = SNAPSHOT_FIELDS if "kind" in snapshot else tuple(f for f in SNAPSHOT_FIELDS if f != "kind")
    if snapshot.get("kind") == "workflow":
        at = fields.index("publishedBy") + 1
        fields = fields[:at] + (CREATOR_FIELD,) + fields[at:]
    return fields + ("signature",) if "signature" in snapshot else fields
AUDIT_FIRST = ("at", "actor", "action", "rowVersion")
RELEASE_ACTIONS = ("publish", "rollback")


# -- checking what was read from disk -------------------------------------------
#
# Every record is checked before it is used, so a hand edit or a bad merge is
# exit 8 naming the file and the field, never a KeyError deep inside a command.
# These checks are stdlib-only and cost microseconds: the read paths run them.
# (verify adds pydantic's exhaustive report on top.)


class _Int:
    """An int that is not a bool, at least `low`, or None when `nullable`."""

    def __init__(self, low: int, nullable: bool = False) -> None:
        self.low, self.nullable = low, nullable

    def problem(self, value: Any) -> str | None:
        if value is None and self.nullable:
            return None
        if type(value) is not int:
            return "must be an integer" + (" or null" if self.nullable else "")
        return f"must be at least {self.low}" if value < self.low else None


_FIELD_TYPES: dict[str, Any] = {
    "str": (str, "must be a string"),
    "bool": (bool, "must be true or false"),
    "dict": (dict, "must be an object"),
}


def _shape_problem(record: Any, fields: dict[str, Any]) -> str | None:
    """The first missing or mistyped field of `record`, as `field "x" …`."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    for field, rule in fields.items():
        if field not in record:
            return f'field "{field}" is missing'
        value = record[field]
        if isinstance(rule, _Int):
            problem = rule.problem(value)
        else:
            kind, problem = _FIELD_TYPES[rule]
            problem = None if type(value) is kind else problem
        if problem:
            return f'field "{field}" {problem}'
    return None


_HEAD_RULES: dict[str, Any] = {
    "id": "str", "tenantId": "str", "key": "str", "name": "str", "description": "str", "kind": "str",
    "status": "str", "autoAssembly": "bool", "draftConfig": "dict", "activeVersion": _Int(1, nullable=True),
    "latestVersion": _Int(0), "rowVersion": _Int(1), "createdAt": "str", "createdBy": "str",
    "updatedAt": "str", "updatedBy": "str",
}
_ENTRY_RULES: dict[str, Any] = {
    "version": _Int(1), "publishedAt": "str", "publishedBy": "str", "notes": "str", "source": "dict",
    "summary": "dict",
}
_SNAPSHOT_RULES: dict[str, Any] = {
    "flowId": "str", "tenantId": "str", "key": "str", **_ENTRY_RULES, "configSha256": "str",
    "configSnapshot": "dict",
}
_AUDIT_RULES: dict[str, Any] = {"at": "str", "actor": "str", "action": "str", "rowVersion": _Int(1)}


def head_problem(head: Any) -> str | None:
    """Why `head` cannot be used as a flow head, or None."""
    problem = _shape_problem(head, _HEAD_RULES)
    if problem is None and head["kind"] not in KINDS:
        problem = f'field "kind" is {head["kind"]!r}, not one of {", ".join(KINDS)}'
    if problem is None:
        problem = _kind_head_problem(head)
    if problem is None and head["status"] not in STATUSES:
        problem = f'field "status" is {head["status"]!r}, not one of {", ".join(STATUSES)}'
    if problem is None and head["activeVersion"] is not None and head["activeVersion"] > head["latestVersion"]:
        problem = f'field "activeVersion" {head["activeVersion"]} is past latestVersion {head["latestVersion"]}'
    return problem


def _kind_head_problem(head: dict[str, Any]) -> str | None:
    """The fields only some kinds' heads have (a workflow's pausedReason)."""
    if KINDS[head["kind"]].head_fields and "pausedReason" not in head:
        return 'field "pausedReason" is missing'
    reason = head.get("pausedReason")
    if "pausedReason" in head and reason is not None and reason not in PAUSED_REASONS:
        return f'field "pausedReason" is {reason!r}, not null or one of {", ".join(PAUSED_REASONS)}'
    if reason is not None and head["status"] != "paused":
        return f'field "pausedReason" is {reason!r}, but status is {head["status"]!r}, not paused'
    return None


def snapshot_problem(snapshot: Any) -> str | None:
    """Why `snapshot` cannot be used as a version snapshot, or None."""
    problem = _shape_problem(snapshot, _SNAPSHOT_RULES)
    kind = snapshot.get("kind", DEFAULT_KIND) if problem is None else DEFAULT_KIND
    if problem is None and kind not in KINDS:
        problem = f'field "kind" is {kind!r}, not one of {", ".join(KINDS)}'
    if problem is None and kind == "workflow" and snapshot.get(CREATOR_FIELD) != snapshot["publishedBy"]:
        problem = f'field "{CREATOR_FIELD}" must equal publishedBy ({snapshot["publishedBy"]!r})'
    if problem is None and "signature" in snapshot:
        problem = signature_problem(snapshot["signature"])
    return problem


def quick_entry_ok(entry: Any, number: int) -> bool:
    """`entry_problem(entry) is None` and it is version `number`, for the common
    case, in one expression: what reading 10,000 index lines costs. False only
    means "look closer" (entry_problem then says exactly what is wrong)."""
    return (type(entry) is dict and tuple(entry) in _ENTRY_KEYS and entry["version"] == number
            and type(entry["version"]) is int and type(entry["publishedAt"]) is str
            and type(entry["publishedBy"]) is str and type(entry["notes"]) is str
            and type(entry["source"]) is dict and type(entry["summary"]) is dict)


def entry_problem(entry: Any) -> str | None:
    """Why `entry` cannot be used as a version-index line, or None."""
    problem = _shape_problem(entry, _ENTRY_RULES)
    if problem is None and tuple(entry) not in (INDEX_FIELDS, (*INDEX_FIELDS, "signature")):
        problem = f"has fields other than {', '.join(INDEX_FIELDS)} (and signature)"
    return problem


SIGNATURE_FIELDS = ("principal", "keyFingerprint", "sshsig")
_ENTRY_KEYS = (INDEX_FIELDS, (*INDEX_FIELDS, "signature"))


def signature_problem(signature: Any) -> str | None:
    """Why a release's stored `signature` record is malformed, or None."""
    if not isinstance(signature, dict) or tuple(signature) != SIGNATURE_FIELDS \
            or not all(isinstance(value, str) for value in signature.values()):
        return f'field "signature" must be an object of strings {", ".join(SIGNATURE_FIELDS)}'
    return None


def audit_problem(entry: Any) -> str | None:
    """Why `entry` cannot be used as an audit line, or None."""
    problem = _shape_problem(entry, _AUDIT_RULES)
    if problem is None and tuple(entry)[:4] != AUDIT_FIRST:
        problem = f"does not start with {', '.join(AUDIT_FIRST)}"
    if problem is None and entry["action"] in RELEASE_ACTIONS and type(entry.get("version")) is not int \
            and not is_swap(entry):
        problem = f'is a {entry["action"]} without an integer "version"' + (
            ' (or, a policy\'s, integer "restoredVersion" and "previousVersion")'
            if entry["action"] == "rollback" else "")
    if problem is None and "signature" in entry:
        problem = "a release line carries no signature (its snapshot does)" if "version" in entry \
            else signature_problem(entry["signature"])
    return problem


def is_swap(entry: dict[str, Any]) -> bool:
    """Whether an audit line is a policy's rollback: it makes an existing
    version active again, so it has a restoredVersion and no version of its own."""
    return (entry.get("action") == "rollback" and "version" not in entry
            and type(entry.get("restoredVersion")) is int and type(entry.get("previousVersion")) is int)


def releases_version(entry: dict[str, Any]) -> bool:
    """Whether an audit line tells of a version it wrote (a publish, or a rollback
    that appends): the lines `verify` matches one-to-one with the snapshots."""
    return entry.get("action") in RELEASE_ACTIONS and "version" in entry


def now() -> str:
    """The current time as UTC ISO 8601 with milliseconds and Z.

    SOURCE_DATE_EPOCH, when set, is the clock (reproducible-builds
    convention) so tests and demos produce byte-identical files.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = float(int(epoch)) if epoch and epoch.strip().isdigit() else time.time()
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_head(
    *,
    flow_id: str,
    tenant: str,
    key: str,
    kind: str,
    name: str,
    description: str,
    status: str,
    auto_assembly: bool,
    draft: dict[str, Any],
    at: str,
    actor: str,
) -> Head:
    """The head of a just-created flow (rowVersion 1, nothing published)."""
    head: dict[str, Any] = {  # a kind's own fields go after status
        "id": flow_id,
        "tenantId": tenant,
        "key": key,
        "name": name,
        "description": description,
        "kind": kind,
        "status": status,
        **KINDS[kind].head_fields,
        "autoAssembly": auto_assembly,
        "draftConfig": draft,
        "activeVersion": None,
        "latestVersion": 0,
        "rowVersion": 1,
        "createdAt": at,
        "createdBy": actor,
        "updatedAt": at,
        "updatedBy": actor,
    }
    return cast(Head, head)


def changed_head(head: Head, at: str, actor: str, **fields: Any) -> Head:
    """A copy of `head` with `fields` replaced, rowVersion bumped and stamped."""
    new: dict[str, Any] = dict(head)
    new.update(fields)
    new["rowVersion"] = head["rowVersion"] + 1
    new["updatedAt"] = at
    new["updatedBy"] = actor
    return new  # type: ignore[return-value]


def new_snapshot(
    head: Head,
    *,
    version: int,
    at: str,
    actor: str,
    notes: str,
    source: dict[str, Any],
    summary: Summary,
    config: dict[str, Any],
) -> Snapshot:
    """The immutable record of one published version."""
    creator = {CREATOR_FIELD: actor} if head["kind"] == "workflow" else {}
    snapshot: dict[str, Any] = {  # a workflow's versionCreatedBy goes after publishedBy
        "flowId": head["id"],
        "tenantId": head["tenantId"],
        "key": head["key"],
        "kind": head["kind"],
        "version": version,
        "publishedAt": at,
        "publishedBy": actor,
        **creator,
        "notes": notes,
        "source": source,
        "summary": summary,
        "configSha256": jsonio.config_sha256(config),
        "configSnapshot": config,
    }
    return cast(Snapshot, snapshot)


def head_after_release(head: Head, snapshot: Snapshot) -> Head:
    """The head once `snapshot` is published: the one rule for publish, rollback
    and for completing a half-finished publish forward after a crash."""
    return changed_head(
        head,
        snapshot["publishedAt"],
        snapshot["publishedBy"],
        **({"pausedReason": None} if "pausedReason" in head else {}),
        status="active",
        draftConfig=snapshot["configSnapshot"],
        activeVersion=snapshot["version"],
        latestVersion=snapshot["version"],
    )


def version_entry(snapshot: Snapshot | dict[str, Any]) -> VersionEntry:
    """The index line / `versions` item of a snapshot: everything but the config,
    and of a signed one who signed it (principal and key, not the signature)."""
    fields: dict[str, Any] = dict(snapshot)
    entry = {field: fields[field] for field in INDEX_FIELDS}
    signature = fields.get("signature")
    if isinstance(signature, dict):
        entry["signature"] = {"principal": signature.get("principal"),
                              "keyFingerprint": signature.get("keyFingerprint")}
    return cast(VersionEntry, entry)


def audit_entry(at: str, actor: str, action: str, row_version: int, **extra: Any) -> dict[str, Any]:
    """One audit line: at, actor, action, rowVersion, then what applies (docs/contract.md §3)."""
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "rowVersion": row_version}
    for field in ("version", "restoredVersion", "previousVersion", "notes", "changes", "signature"):
        if extra.get(field) is not None:
            entry[field] = extra[field]
    return entry

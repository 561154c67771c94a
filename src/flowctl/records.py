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

STATUSES = ("active", "draft", "paused", "archived")  # also the `list` order
Status = Literal["draft", "active", "paused", "archived"]


class Head(TypedDict):
    id: str
    tenantId: str
    key: str
    name: str
    description: str
    kind: Literal["decision-flow"]
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


class Summary(TypedDict):
    nodeCount: int
    scoringMethod: str | None


class Snapshot(TypedDict):
    flowId: str
    tenantId: str
    key: str
    version: int
    publishedAt: str
    publishedBy: str
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
    if problem is None and head["status"] not in STATUSES:
        problem = f'field "status" is {head["status"]!r}, not one of {", ".join(STATUSES)}'
    if problem is None and head["activeVersion"] is not None and head["activeVersion"] > head["latestVersion"]:
        problem = f'field "activeVersion" {head["activeVersion"]} is past latestVersion {head["latestVersion"]}'
    return problem


def snapshot_problem(snapshot: Any) -> str | None:
    """Why `snapshot` cannot be used as a version snapshot, or None."""
    return _shape_problem(snapshot, _SNAPSHOT_RULES)


def entry_problem(entry: Any) -> str | None:
    """Why `entry` cannot be used as a version-index line, or None."""
    problem = _shape_problem(entry, _ENTRY_RULES)
    if problem is None and len(entry) != len(INDEX_FIELDS):
        problem = f"has fields other than {', '.join(INDEX_FIELDS)}"
    return problem


def audit_problem(entry: Any) -> str | None:
    """Why `entry` cannot be used as an audit line, or None."""
    problem = _shape_problem(entry, _AUDIT_RULES)
    if problem is None and tuple(entry)[:4] != AUDIT_FIRST:
        problem = f"does not start with {', '.join(AUDIT_FIRST)}"
    if problem is None and entry["action"] in RELEASE_ACTIONS and type(entry.get("version")) is not int:
        problem = f'is a {entry["action"]} without an integer "version"'
    return problem


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
    name: str,
    description: str,
    status: str,
    auto_assembly: bool,
    draft: dict[str, Any],
    at: str,
    actor: str,
) -> Head:
    """The head of a just-created flow (rowVersion 1, nothing published)."""
    return {
        "id": flow_id,
        "tenantId": tenant,
        "key": key,
        "name": name,
        "description": description,
        "kind": "decision-flow",
        "status": status,  # type: ignore[typeddict-item]
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
    return {
        "flowId": head["id"],
        "tenantId": head["tenantId"],
        "key": head["key"],
        "version": version,
        "publishedAt": at,
        "publishedBy": actor,
        "notes": notes,
        "source": source,
        "summary": summary,
        "configSha256": jsonio.config_sha256(config),
        "configSnapshot": config,
    }


def head_after_release(head: Head, snapshot: Snapshot) -> Head:
    """The head once `snapshot` is published: the one rule for publish, rollback
    and for completing a half-finished publish forward after a crash."""
    return changed_head(
        head,
        snapshot["publishedAt"],
        snapshot["publishedBy"],
        status="active",
        draftConfig=snapshot["configSnapshot"],
        activeVersion=snapshot["version"],
        latestVersion=snapshot["version"],
    )


def version_entry(snapshot: Snapshot | dict[str, Any]) -> VersionEntry:
    """The index line / `versions` item of a snapshot: everything but the config."""
    fields: dict[str, Any] = dict(snapshot)
    return cast(VersionEntry, {field: fields[field] for field in INDEX_FIELDS})


def audit_entry(at: str, actor: str, action: str, row_version: int, **extra: Any) -> dict[str, Any]:
    """One audit line: at, actor, action, rowVersion, then what applies (docs/contract.md §3)."""
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "rowVersion": row_version}
    for field in ("version", "restoredVersion", "previousVersion", "notes", "changes"):
        if extra.get(field) is not None:
            entry[field] = extra[field]
    return entry

"""The three records of the store: flow head, version snapshot, audit entry.

Records are plain dicts whose key order is the field order of SPEC §3, so
they serialise byte-stably. The TypedDicts document the shape (and let
`verify` check it with pydantic); building and reading them costs nothing
on the read paths, which import neither pydantic nor rich.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict

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


def now() -> str:
    """The current time as UTC ISO 8601 with milliseconds and Z.

    SOURCE_DATE_EPOCH, when set, is the clock (reproducible-builds
    convention) so tests and demos produce byte-identical files.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = float(int(epoch)) if epoch and epoch.strip().isdigit() else time.time()
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
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
    return {field: snapshot[field] for field in INDEX_FIELDS}  # type: ignore[return-value]


def audit_entry(at: str, actor: str, action: str, row_version: int, **extra: Any) -> dict[str, Any]:
    """One audit line: at, actor, action, rowVersion, then what applies (SPEC §3)."""
    entry: dict[str, Any] = {"at": at, "actor": actor, "action": action, "rowVersion": row_version}
    for field in ("version", "restoredVersion", "previousVersion", "notes", "changes"):
        if extra.get(field) is not None:
            entry[field] = extra[field]
    return entry

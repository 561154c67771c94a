"""`export` and `import`: a flow with its whole history as one document.

A bundle is one JSON (or TOML) document::

    {"format": "flowctl-bundle", "bundleVersion": 1,
     "flow": <head>, "versions": [<snapshot v1>, ...], "audit": [<entry>, ...]}

It moves a flow between stores or tenants. Import trusts nothing: the
records must have their docs/contract.md §3 shape (exit 2 otherwise), and the history
must hold together, every snapshot matching its configSha256, numbered
1..N, agreeing with the head (exit 8 otherwise, as `verify` would say of a
store). The flow is then re-stamped with its new tenant (and key, and id if
asked), gets an `import` audit line, and is written as one new directory
that appears whole or not at all (`journal.import_flow`).

TOML has no null. As for `show --format toml`, a record's null fields are
left out (the head's activeVersion before the first publish) and come back
as null on import; a null inside a config cannot be written and is refused
with its path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from . import journal, jsonio, kinds, names, reading, records
from .errors import BadInput, Conflict, FlowctlError, IntegrityError, Problem

if TYPE_CHECKING:
    from .flows import Flows

FORMAT = "flowctl-bundle"
BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 512 * 1024 * 1024  # a long history: far beyond one config's limit
_NULLABLE = {"activeVersion", "pausedReason"}  # the top-level record fields that may be null (contract §3)


def export_flow(flows: Flows, flow: str) -> dict[str, Any]:
    """The bundle of FLOW: head, every snapshot (checksums checked), audit log."""
    files = flows.resolve(flow)
    head = reading.current_head(files)
    snapshots = [reading.read_snapshot(files, head, version, check=True)
                 for version in range(1, head["latestVersion"] + 1)]
    return {
        "format": FORMAT,
        "bundleVersion": BUNDLE_VERSION,
        "flow": head,
        "versions": snapshots,
        "audit": reading.read_audit(files, head),
    }


def to_toml(bundle: dict[str, Any]) -> str:
    """The bundle as TOML: each record's null fields left out, a null in a config refused."""
    from .tomlio import dumps_toml

    def present(record: dict[str, Any]) -> dict[str, Any]:
        return {field: value for field, value in record.items() if value is not None}

    return dumps_toml({
        **bundle,
        "flow": present(bundle["flow"]),
        "versions": [present(snapshot) for snapshot in bundle["versions"]],
        "audit": [present(entry) for entry in bundle["audit"]],
    })


def import_flow(
    flows: Flows, document: Any, source: str, *, key: str | None = None, flow_id: str | None = None
) -> records.Head:
    """Create the bundle's flow, history and all, in `flows`' tenant.

    `key` and `flow_id` rename it; by default it keeps both, and either one
    already used in the tenant is a Conflict (exit 4).
    """
    head, snapshots, audit = _read_bundle(document, source)
    _check_history(head, snapshots, audit, source)
    new_key = names.check_key(key) if key is not None else head["key"]
    new_id = names.check_id(flow_id) if flow_id is not None else head["id"]
    at = records.now()
    stamp = {"flowId": new_id, "tenantId": flows.tenant, "key": new_key}
    imported = records.changed_head(head, at, flows.actor, id=new_id, tenantId=flows.tenant, key=new_key)
    origin = f"imported from {head['tenantId']}/{head['key']} ({head['id']})"
    audit = [*audit, records.audit_entry(at, flows.actor, "import", imported["rowVersion"], notes=origin)]
    files = flows.store.flow_files(flows.tenant, new_key)
    with flows.store.tenant_lock(flows.tenant, flows.lock_timeout):
        _check_free(flows, new_key, new_id, key_given=key is not None)
        restamped = [cast(records.Snapshot, {**snapshot, **stamp}) for snapshot in snapshots]
        _check_signatures(flows, imported, restamped, audit, source)
        journal.import_flow(files, imported, restamped, audit)
    return imported


# -- reading a bundle ------------------------------------------------------------


def _read_bundle(document: Any, source: str) -> tuple[records.Head, list[records.Snapshot], list[dict[str, Any]]]:
    """The bundle's records in contract field order; BadInput listing every flaw of shape."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BadInput(f"{source}: not a flowctl bundle (no \"format\": \"{FORMAT}\"): "
                       "make one with `flowctl export FLOW`")
    if document.get("bundleVersion") != BUNDLE_VERSION:
        raise BadInput(f"{source}: bundleVersion {document.get('bundleVersion')!r} is not supported "
                       f"(this flowctl reads {BUNDLE_VERSION}); upgrade flowctl")
    problems: list[Problem] = []
    for field, kind in (("flow", dict), ("versions", list), ("audit", list)):
        if not isinstance(document.get(field), kind):
            problems.append(Problem(field, f"must be {'an object' if kind is dict else 'a list'}"))
    if problems:
        raise BadInput(f"{source}: not a valid flowctl bundle", problems)
    flow = document["flow"]
    if flow.get("kind") not in kinds.KINDS:  # before the fields, which depend on the kind
        raise BadInput(f"{source}: not a valid flowctl bundle",
                       [Problem("flow.kind", f"{jsonio.shown(str(flow.get('kind')))} is not one of "
                                             f"{', '.join(kinds.KINDS)}")])
    head = _record(flow, records.head_fields(str(flow.get("kind"))), records.Head, "flow", problems,
                   records.head_problem)
    snapshots = [_record(snapshot, records.snapshot_fields(snapshot if isinstance(snapshot, dict) else {}),
                         records.Snapshot, f"versions[{i}]", problems, records.snapshot_problem)
                 for i, snapshot in enumerate(document["versions"])]
    audit = document["audit"]
    for i, entry in enumerate(audit):
        problem = records.audit_problem(entry)  # the rule every audit line read from a store meets
        if problem:
            problems.append(Problem(f"audit[{i}]", problem))
    if problems:
        raise BadInput(f"{source}: not a valid flowctl bundle ({len(problems)} problems)", problems)
    return head, snapshots, audit


def _record(value: Any, fields: tuple[str, ...], shape: type, where: str, problems: list[Problem],
            rule: Any) -> Any:
    """`value` with its fields in contract order (a TOML file may reorder them and
    leave nulls out); its missing, unknown and mistyped fields, and what `rule`
    (records.head_problem, records.snapshot_problem) finds, added to `problems`."""
    from .verify import record_problems

    if not isinstance(value, dict):
        problems.append(Problem(where, "must be an object"))
        return value
    missing = [field for field in fields if field not in value and field not in _NULLABLE]
    unknown = [field for field in value if field not in fields]
    if missing or unknown:
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ) if part)
        problems.append(Problem(where, detail))
        return value
    ordered = {field: value.get(field) for field in fields}
    found = record_problems(ordered, shape, where, fields) or [problem for problem in [rule(ordered)] if problem]
    problems.extend(Problem(where, problem) for problem in found)
    return ordered


def _check_history(
    head: records.Head, snapshots: list[records.Snapshot], audit: list[dict[str, Any]], source: str
) -> None:
    """The checks `verify` makes of a flow, on the bundle: IntegrityError (exit 8) if any fails."""
    problems = []
    # As verify demands of a flow: one line per change, rowVersions 1, 2, … up to the head's.
    rows = [entry["rowVersion"] for entry in audit]
    if rows != list(range(1, head["rowVersion"] + 1)):
        problems.append(Problem("audit", f"rowVersions must run 1, 2, … up to the flow's {head['rowVersion']}, "
                                         "one line per change"))
    if head["latestVersion"] != len(snapshots):
        problems.append(Problem("flow.latestVersion",
                                f"is {head['latestVersion']} but the bundle holds {len(snapshots)} versions"))
    active = head["activeVersion"]
    if (active is None) != (not snapshots) or (active is not None and not 1 <= active <= len(snapshots)):
        problems.append(Problem("flow.activeVersion", f"{active!r} is not a version of the bundle"))
    for i, snapshot in enumerate(snapshots):
        where = f"versions[{i}]"
        if snapshot["version"] != i + 1:
            problems.append(Problem(where, f"is version {snapshot['version']}, expected {i + 1} (numbering 1..N)"))
        if jsonio.config_sha256(snapshot["configSnapshot"]) != snapshot["configSha256"]:
            problems.append(Problem(where, "config does not match its configSha256 (altered or damaged)"))
        if (snapshot["flowId"], snapshot["key"], snapshot["tenantId"]) != (head["id"], head["key"], head["tenantId"]):
            problems.append(Problem(where, "flowId/key/tenantId differ from the bundle's flow"))
        if snapshot.get("kind", head["kind"]) != head["kind"]:
            problems.append(Problem(where, f"is a {snapshot.get('kind')} version of a {head['kind']}"))
    releases = [entry for entry in audit if records.releases_version(entry)]
    released = {entry.get("version"): entry for entry in releases}
    if len(released) != len(releases):
        problems.append(Problem("audit", "a version has more than one publish/rollback line"))
    for snapshot in snapshots:
        # The same agreement verify demands, so an import never creates a flow verify rejects:
        # each version's release line is exactly the one its snapshot implies.
        line = released.get(snapshot["version"])
        if line is None or line != reading.release_audit(snapshot, line["rowVersion"]):
            problems.append(Problem("audit", f"no publish/rollback line agreeing with version {snapshot['version']}"))
    if problems:
        raise IntegrityError(f"{source}: the bundle's history does not hold together: "
                             "nothing imported; export the flow again", problems)


def _check_signatures(flows: Flows, head: records.Head, snapshots: list[records.Snapshot],
                      audit: list[dict[str, Any]], source: str) -> None:
    """In a store that requires signed releases, every release of the bundle must prove
    itself as it will be stored here (a signature covers tenant, key and id, so a
    signed flow imports under its own names only): IntegrityError (exit 8) otherwise."""
    from . import signatures

    settings = signatures.settings_of(flows.store) if "signing" in flows.store.settings else None
    if settings is None or not settings.required:
        return
    from .signature_checks import bundle_problems

    swaps = [(number, line) for number, line in enumerate(audit, start=1) if records.is_swap(line)]
    rows = {line["version"]: line["rowVersion"] for line in audit if records.releases_version(line)}
    found = bundle_problems(settings, dict(head), {s["version"]: dict(s) for s in snapshots}, swaps, rows)
    if found:
        raise IntegrityError(f"{source}: the bundle's releases do not prove themselves here (this store requires "
                             "signed releases): nothing imported; import a flow under the tenant, key and id "
                             "it was signed for", [Problem("versions", problem) for _, problem in found])


def _check_free(flows: Flows, key: str, flow_id: str, *, key_given: bool) -> None:
    """Under the tenant lock: neither the key nor the id may be a key or id of the tenant (docs/contract.md §2)."""
    owners: dict[str, str] = {}
    for existing in flows.store.flow_keys(flows.tenant):
        owners[existing] = existing
        try:
            owners.setdefault(reading.current_head(flows.store.flow_files(flows.tenant, existing))["id"], existing)
        except FlowctlError:
            continue  # not (or no longer) a flow: verify reports it
    tenant = flows.tenant
    if key in owners:
        hint = "choose another --key" if key_given else "import it under another key with --key NEW-KEY"
        raise Conflict(f"key {key!r} is already used by flow {owners[key]!r} of tenant {tenant!r}", hint=hint)
    if flow_id in owners:
        raise Conflict(f"id {flow_id!r} is already used by flow {owners[flow_id]!r} of tenant {tenant!r}",
                       hint="import it with a new id, --id NEW-ID (the history keeps its versions)")

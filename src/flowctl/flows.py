"""The operations on flows, one function each: what every command means.

Each write takes the flow's lock, completes or drops whatever a crash left
(`journal.recover`), re-reads the head under the lock, checks its
preconditions, and only then writes, through the protocol in `journal`.
Nothing here prints or exits; failures are `FlowctlError`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import journal, jsonio, kinds, names, paging, reading, records
from .errors import BadInput, Conflict, InvalidConfig, NotFound
from .paging import Page
from .records import Head, Snapshot, VersionEntry
from .releases import Release
from .store import FlowFiles, Store

if TYPE_CHECKING:
    from .pointers import Edit

_TEXT_MAX = 4096  # name, description, notes: one paragraph, not a document


def default_actor() -> str:
    """Who is acting when neither --actor nor $FLOWCTL_ACTOR says: the login name."""
    import getpass

    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


def _check_text(label: str, value: str, *, required: bool = False, single_line: bool = True) -> str:
    if required and not value.strip():
        raise BadInput(f"{label} must not be empty")
    if len(value) > _TEXT_MAX:
        raise BadInput(f"{label} is {len(value)} characters long: the limit is {_TEXT_MAX}")
    if "\x00" in value:
        raise BadInput(f"{label} must not contain a NUL character")
    if single_line and ("\n" in value or "\r" in value):
        raise BadInput(f"{label} must be a single line of text")
    return value


def _check_status(status: str) -> str:
    if status not in records.STATUSES:
        raise BadInput(f"status {status!r} is not one of {', '.join(records.STATUSES)}")
    return status


def version_number(head: Head, which: str | int) -> int:
    """The version number `which` names in `head`: 'active', 'latest' or a number
    (NotFound when the flow has no such version yet)."""
    if which == "active":
        if head["activeVersion"] is None:
            raise NotFound(f"flow {head['key']!r} has no active version: publish it first")
        return head["activeVersion"]
    if which == "latest":
        if not head["latestVersion"]:
            raise NotFound(f"flow {head['key']!r} has no versions: publish it first")
        return head["latestVersion"]
    return int(which)


class Flows:
    """The flows of one tenant of a store, as seen by one actor."""

    def __init__(self, store: Store, tenant: str, actor: str | None, lock_timeout: float = 10.0) -> None:
        """`actor` None: the login name (`default_actor`), looked up when a write
        first needs it, so a read never imports getpass."""
        self.store = store
        self.tenant = names.check_tenant(tenant)
        self._actor = None if actor is None else _check_text("actor", actor, required=True)
        if not lock_timeout >= 0:  # also NaN, which would make a busy lock wait forever
            raise BadInput(f"the lock timeout {lock_timeout!r} is not a number of seconds >= 0",
                           hint="give --lock-timeout SECONDS")
        self.lock_timeout = lock_timeout
        # Whether the last `update` wrote anything (like DB-API's cursor.rowcount):
        # an update that changes nothing writes nothing and returns the head as is.
        self.last_update_changed = False

    @property
    def actor(self) -> str:
        """Who is acting, as the audit log and signatures record it."""
        if self._actor is None:
            self._actor = _check_text("actor", default_actor(), required=True)
        return self._actor

    # -- preconditions -----------------------------------------------------------

    @staticmethod
    def check_row_version(head: Head, expected: int | None) -> None:
        """Conflict (exit 4) unless the head is at rowVersion `expected` (when given)."""
        if expected is not None and expected != head["rowVersion"]:
            raise Conflict(
                f"{kinds.kind(head['kind']).noun} {head['key']!r} is at rowVersion {head['rowVersion']}, "
                f"not {expected}: someone changed it; re-read it with `flowctl show {head['key']}` and retry"
            )

    @staticmethod
    def check_notes(notes: str) -> None:
        _check_text("notes", notes, single_line=False)

    def authorize(self, action: str, actor: str | None = None) -> None:
        """Forbidden (exit 6) unless `actor` (default: this actor) holds the role
        `action` needs under the store's [access] table; a store without one
        allows everything, and then the access module is not even imported."""
        if "access" in self.store.settings:
            from . import access

            access.check(self.store.settings, actor or self.actor, action, self.tenant)

    # -- finding ---------------------------------------------------------------

    def _files(self, key: str) -> FlowFiles:
        return self.store.flow_files(self.tenant, key)

    def resolve(self, flow: str) -> FlowFiles:
        """The files of FLOW, given as a key or an id (the key is tried first)."""
        if not names.is_name(flow):
            names.check_key(flow)  # raises with the precise reason
        files = self._files(flow)
        if files.head.exists():
            return files
        from . import head_cache

        table = head_cache.scan(self.store, self.tenant).table
        for key, flow_id in sorted(zip(table.keys, table.ids, strict=True)):
            if flow_id == flow:
                return self._files(key)
        raise NotFound(f"no flow {flow!r} in tenant {self.tenant!r}",
                       hint="see `flowctl list` (or pass --tenant)")

    # -- reading ---------------------------------------------------------------

    def _read(self, flow: str) -> tuple[FlowFiles, Head]:
        """FLOW's files and its head as every reader sees it."""
        files = self.resolve(flow)
        return files, reading.current_head(files)

    def get(self, flow: str) -> Head:
        """The flow's head."""
        return reading.current_head(self.resolve(flow))

    def versions(self, flow: str) -> tuple[Head, list[VersionEntry]]:
        """The head and every version's entry, oldest first."""
        files, head = self._read(flow)
        return head, reading.read_versions(files, head)

    def snapshot(self, flow: str, which: str | int) -> Snapshot:
        """One version's full snapshot: a number, 'active' or 'latest'."""
        files, head = self._read(flow)
        return reading.read_snapshot(files, head, version_number(head, which))

    def configs(self, flow: str, *which: str | int) -> tuple[Head, list[tuple[dict[str, Any] | None, str]]]:
        """The head and, for each of `which` ('draft', 'active', 'latest' or a
        version number), a config with its label (`draft`, `v3`), reading the
        head once. 'active' before the first publish is (None, 'empty')."""
        files, head = self._read(flow)
        found: list[tuple[dict[str, Any] | None, str]] = []
        for selector in which:
            if selector == "draft":
                found.append((head["draftConfig"], "draft"))
            elif selector == "active" and head["activeVersion"] is None:
                found.append((None, "empty"))
            else:
                number = version_number(head, selector)
                found.append((reading.read_snapshot(files, head, number)["configSnapshot"], f"v{number}"))
        return head, found

    def config(self, flow: str, which: str | int) -> dict[str, Any] | None:
        """One config of the flow (see `configs`)."""
        return self.configs(flow, which)[1][0][0]

    def versions_lines(self, flow: str) -> tuple[Head, list[bytes]]:
        """The head and every version's entry as one compact JSON line each,
        oldest first: straight from the index when it is sound, so printing
        10,000 versions builds no dicts."""
        files, head = self._read(flow)
        return head, reading.versions_lines(files, head)

    def newest_versions_lines(self, flow: str, limit: int) -> tuple[Head, list[bytes]]:
        """The head and the entries of the newest `limit` versions, oldest first,
        as compact JSON lines marked as `versions --json` prints them: read from
        the end of the index (`versions --limit N`, like `helm history --max`)."""
        if limit < 1:
            raise BadInput(f"--limit must be at least 1 (got {limit})")
        files, head = self._read(flow)
        lines = reading.read_index_tail(files, head, limit)
        return head, reading.mark_lines(lines, head, "signing" in self.store.settings,
                                first=head["latestVersion"] - len(lines) + 1)

    def history(self, flow: str) -> list[dict[str, Any]]:
        """The audit entries of the flow, oldest first."""
        return reading.read_audit(*self._read(flow))

    def list(self, status: str | None = None, limit: int = 25, cursor: str | None = None,
             kind: str | None = None) -> Page:
        """Flows (of `status`, of `kind`) ordered by status, then updatedAt newest
        first, then key, paginated by an opaque keyset cursor."""
        from . import head_cache

        if status is not None:
            _check_status(status)
        if kind is not None:
            kinds.kind(kind)
        paging.check_limit(limit)
        paging.check_cursor(cursor)
        # Paged from the cache, which keeps the tenant in list order (a stat per flow,
        # a parse per changed head); then only the page's heads are read, as every
        # reader reads them.
        table = head_cache.scan(self.store, self.tenant).table
        picked: Sequence[int] = range(len(table.keys))  # the table's rows that pass the filter
        if status is not None or kind is not None:
            picked = [at for at in picked if (status is None or table.statuses[at] == status)
                      and (kind is None or table.kinds[at] == kind)]
        shown, next_cursor = paging.page_range(len(picked), lambda number: table.position(picked[number]),
                                               limit, cursor)
        heads = (self._head_if_any(table.keys[picked[number]]) for number in shown)
        return paging.Page(flows=[head for head in heads if head is not None],
                           total=len(picked), limit=limit, next_cursor=next_cursor)

    def _head_if_any(self, key: str) -> Head | None:
        """The current head of flow `key`, None if it was deleted since the scan."""
        try:
            return reading.current_head(self._files(key))
        except NotFound:
            return None

    # -- writing ---------------------------------------------------------------

    def create(
        self,
        key: str,
        *,
        name: str,
        description: str = "",
        status: str = "draft",
        auto_assembly: bool = True,
        config: Any = None,
        flow_id: str | None = None,
        kind: str = kinds.DEFAULT_KIND,
        source_text: str | None = None,
    ) -> Head:
        """A new flow of `kind` with the kind's default (or the given) draft, at
        rowVersion 1; `source_text` is a policy's source (its `source` field)."""
        rules = kinds.rules(kinds.kind(kind).name)
        names.check_key(key)
        if flow_id is not None:
            names.check_id(flow_id)
        _check_text("name", name, required=True)
        _check_text("description", description, single_line=False)
        _check_status(status)
        if status == "active":
            raise InvalidConfig("a new flow cannot be active: it has no published version; publish it instead")
        if source_text is not None:
            field = _source_field(kind, key)
            base = rules.default_draft() if config is None else config
            # A --config that is not an object is left for validation to refuse, with its path.
            config = {**base, field: source_text} if isinstance(base, dict) else base
        if config is None:
            config = rules.default_draft()
        else:
            rules.validate(config)
        files = self._files(key)
        with self.store.tenant_lock(self.tenant, self.lock_timeout):
            from . import head_cache

            # Keys and ids from the cache, not a parse per head. An id given is checked
            # against the heads as they are now (a stat per flow); a new one needs only
            # the flows there are (ids never change), and its 48 random bits. Written
            # back only when many heads were read (flows pulled in since the last read):
            # otherwise writing 10,000 rows would cost more than it saves.
            table = head_cache.scan(self.store, self.tenant, rewrite_after=64, ids_only=flow_id is None).table
            taken = {*table.keys, *table.ids}
            flow_id = flow_id or names.new_id(self.tenant, key, taken)
            for label, value in (("key", key), ("id", flow_id)):
                if value in taken:
                    raise Conflict(f"{label} {value!r} is already used by a flow of tenant {self.tenant!r}")
            at = records.now()
            head = records.new_head(
                flow_id=flow_id,
                tenant=self.tenant,
                key=key,
                kind=kind,
                name=name,
                description=description,
                status=status,
                auto_assembly=auto_assembly,
                draft=config,
                at=at,
                actor=self.actor,
            )
            journal.create_flow(files, head, records.audit_entry(at, self.actor, "create", 1))
        return head

    def update(
        self,
        flow: str,
        *,
        name: str | None = None,
        description: str | None = None,
        status: str | None = None,
        auto_assembly: bool | None = None,
        config: Any = None,
        edits: Sequence[Edit] = (),
        row_version: int | None = None,
        kind: str | None = None,
        paused_reason: str | None = None,
        source_text: str | None = None,
    ) -> Head:
        """Change the head; a change of nothing writes nothing (no rowVersion bump).

        `edits` (--set/--unset) apply in order to `config` if given, else to
        the current draft; only the result is validated, by the flow's kind
        (which never changes: a different `kind` is refused). `paused_reason`
        is a workflow's, with status paused; `source_text` a policy's source,
        set after the edits.
        """
        if name is not None:
            _check_text("name", name, required=True)
        if description is not None:
            _check_text("description", description, single_line=False)
        if status is not None:
            _check_status(status)
        files = self.resolve(flow)
        # Checked before the lock (and before recovery touches anything): a
        # flow's kind never changes, so the head read now tells it.
        flow_kind = _check_kind_change(reading.current_head(files), kind)
        rules = kinds.rules(flow_kind)
        if source_text is not None:
            from .pointers import Edit

            edits = [*edits, Edit("/" + _source_field(flow_kind, files.dir.name), source_text)]
        if config is not None and not edits:
            rules.validate(config)
        with self.store.flow_lock(files, self.lock_timeout):
            head = journal.recover(files)
            self.check_row_version(head, row_version)
            if edits:
                from . import pointers

                # Under the lock: the edits apply to the draft as it is now, not as it was read.
                config = pointers.apply(head["draftConfig"] if config is None else config, edits)
                rules.validate(config)
            wanted: dict[str, Any] = {
                "name": name,
                "description": description,
                "status": status,
                **_paused_reason(head, status, paused_reason),
                "autoAssembly": auto_assembly,
                "draftConfig": config,
            }
            fields = {
                field: value
                for field, value in wanted.items()
                if (value is not None or field == "pausedReason")
                and not jsonio.same_bytes(value, head.get(field))
            }
            self.last_update_changed = bool(fields)
            if not fields:
                return head
            if fields.get("status") == "active" and head["activeVersion"] is None:
                raise InvalidConfig(
                    f"flow {head['key']!r} cannot be active: it has no published version; publish it instead"
                )
            at = records.now()
            new = records.changed_head(head, at, self.actor, **fields)
            audit = records.audit_entry(at, self.actor, "update", new["rowVersion"], changes=list(fields))
            journal.commit_change(files, audit, new)
        return new

    def delete(self, flow: str, *, row_version: int | None = None) -> Head:
        """Remove the flow and its whole history; returns the head it had."""
        files = self.resolve(flow)
        with self.store.flow_lock(files, self.lock_timeout):
            head = journal.recover(files)
            self.check_row_version(head, row_version)
            # Also under the tenant's lock, like every entry of the tenant directory
            # (create's staging, repair's cleanup): the moved-away directory is then
            # never seen by `verify` as a stray, nor removed by repair under our feet.
            with self.store.tenant_lock(self.tenant, self.lock_timeout):
                journal.delete_flow(files)
        return head

    def publish(self, flow: str, *, notes: str = "", row_version: int | None = None, dry_run: bool = False,
                signing_key: Path | None = None) -> Release:
        """Snapshot the draft as version latest+1 and make it active (signed by
        `signing_key`, whose principal is then the actor)."""
        from . import releases

        return releases.publish(self, flow, notes=notes, row_version=row_version, dry_run=dry_run,
                                signing_key=signing_key)

    def rollback(self, flow: str, *, version: int | None = None, notes: str = "",
                 expected_current_version: int | None = None, row_version: int | None = None,
                 dry_run: bool = False, signing_key: Path | None = None) -> Release:
        """Go back to version `version` (default: the one numbered just below the
        active one) by the kind's rule: a decision flow or workflow appends
        version latest+1 with its config; a policy makes it active again."""
        from . import releases

        return releases.rollback(self, flow, version=version, notes=notes, row_version=row_version,
                                 expected_current_version=expected_current_version, dry_run=dry_run,
                                 signing_key=signing_key)


def _source_field(kind: str, key: str) -> str:
    """The config field holding a kind's source text; BadInput for kinds without one."""
    field = kinds.kind(kind).source_field
    if field is None:
        raise BadInput(f"{key!r} is a {kind}, whose config has no source text: only a policy's has",
                       hint="give the config with --config FILE")
    return field


def _check_kind_change(head: Head, kind: str | None) -> str:
    """The flow's kind; BadInput when `kind` names another one (kinds never change)."""
    if kind is not None and kinds.kind(kind).name != head["kind"]:
        raise BadInput(f"{head['key']!r} is a {head['kind']}: a flow's kind never changes",
                       hint=f"create a new flow with `flowctl create KEY --kind {kind}`")
    return head["kind"]


def _paused_reason(head: Head, status: str | None, reason: str | None) -> dict[str, str | None]:
    """The pausedReason field an update writes: `reason` for a workflow being (or
    staying) paused; null when its status moves away from paused; else nothing."""
    if reason is None:
        moving_on = status is not None and status != "paused" and head.get("pausedReason") is not None
        return {"pausedReason": None} if moving_on else {}
    if "pausedReason" not in kinds.kind(head["kind"]).head_fields:
        raise BadInput(f"{head['key']!r} is a {head['kind']}: only a workflow has a paused reason")
    if reason not in kinds.PAUSED_REASONS:
        raise BadInput(f"paused reason {reason!r} is not one of {', '.join(kinds.PAUSED_REASONS)}")
    if (status or head["status"]) != "paused":
        raise BadInput("a paused reason goes with status paused", hint="add --status paused")
    return {"pausedReason": reason}

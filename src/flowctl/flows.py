"""The operations on flows, one function each: what every command means.

Each write takes the flow's lock, completes or drops whatever a crash left
(`journal.recover`), re-reads the head under the lock, checks its
preconditions, and only then writes, through the protocol in `journal`.
Nothing here prints or exits; failures are `FlowctlError`s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from . import journal, jsonio, names, paging, reading, records
from .errors import BadInput, Conflict, InvalidConfig, NotFound
from .paging import Page
from .records import Head, Snapshot, VersionEntry
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


def _check_row_version(head: Head, expected: int | None) -> None:
    if expected is not None and expected != head["rowVersion"]:
        raise Conflict(
            f"flow {head['key']!r} is at rowVersion {head['rowVersion']}, not {expected}: "
            f"someone changed it; re-read it with `flowctl show {head['key']}` and retry"
        )


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


def versions_lines(files: FlowFiles, head: Head) -> list[bytes]:
    """Every version's entry of `head` as one compact JSON line (no newline),
    oldest first: straight from the index when it is sound, else rebuilt from
    the entries `reading.read_versions` finds."""
    lines = reading.read_index_lines(files, head)
    if lines is None:
        lines = [jsonio.compact_line(entry).rstrip(b"\n") for entry in reading.read_versions(files, head)]
    return lines


class Release(NamedTuple):
    """What a publish or rollback wrote (or, with dry_run, would write)."""

    head: Head
    snapshot: Snapshot
    previous_version: int | None
    previous_config: dict[str, Any] | None
    dry_run: bool = False


class Flows:
    """The flows of one tenant of a store, as seen by one actor."""

    def __init__(self, store: Store, tenant: str, actor: str, lock_timeout: float = 10.0) -> None:
        self.store = store
        self.tenant = names.check_tenant(tenant)
        self.actor = _check_text("actor", actor, required=True)
        if not lock_timeout >= 0:  # also NaN, which would make a busy lock wait forever
            raise BadInput(f"the lock timeout {lock_timeout!r} is not a number of seconds >= 0",
                           hint="give --lock-timeout SECONDS")
        self.lock_timeout = lock_timeout
        # Whether the last `update` wrote anything (like DB-API's cursor.rowcount):
        # an update that changes nothing writes nothing and returns the head as is.
        self.last_update_changed = False

    # -- finding ---------------------------------------------------------------

    def _files(self, key: str) -> FlowFiles:
        return self.store.flow_files(self.tenant, key)

    def _heads(self) -> list[tuple[FlowFiles, Head]]:
        """Every flow of the tenant with its current head."""
        found = []
        for key in self.store.flow_keys(self.tenant):
            files = self._files(key)
            try:
                found.append((files, reading.current_head(files)))
            except NotFound:
                continue  # a directory that is not (or no longer) a flow
        return found

    def resolve(self, flow: str) -> FlowFiles:
        """The files of FLOW, given as a key or an id (the key is tried first)."""
        if not names.is_name(flow):
            names.check_key(flow)  # raises with the precise reason
        files = self._files(flow)
        if files.head.exists():
            return files
        for candidate, head in self._heads():
            if head["id"] == flow:
                return candidate
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
        return head, versions_lines(files, head)

    def history(self, flow: str) -> list[dict[str, Any]]:
        """The audit entries of the flow, oldest first."""
        return reading.read_audit(*self._read(flow))

    def list(self, status: str | None = None, limit: int = 25, cursor: str | None = None) -> Page:
        """Flows ordered by status, then updatedAt newest first, then key,
        paginated by an opaque keyset cursor."""
        if status is not None:
            _check_status(status)
        heads = [head for _, head in self._heads() if status is None or head["status"] == status]
        return paging.page(heads, limit, cursor)

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
    ) -> Head:
        """A new flow with the default (or given) draft, at rowVersion 1."""
        from . import pipeline

        names.check_key(key)
        if flow_id is not None:
            names.check_id(flow_id)
        _check_text("name", name, required=True)
        _check_text("description", description, single_line=False)
        _check_status(status)
        if status == "active":
            raise InvalidConfig("a new flow cannot be active: it has no published version; publish it instead")
        if config is None:
            config = pipeline.default_draft()
        else:
            pipeline.validate(config)
        files = self._files(key)
        with self.store.tenant_lock(self.tenant, self.lock_timeout):
            taken = {value for _, head in self._heads() for value in (head["key"], head["id"])}
            flow_id = flow_id or _new_id(self.tenant, key, taken)
            for label, value in (("key", key), ("id", flow_id)):
                if value in taken:
                    raise Conflict(f"{label} {value!r} is already used by a flow of tenant {self.tenant!r}")
            at = records.now()
            head = records.new_head(
                flow_id=flow_id,
                tenant=self.tenant,
                key=key,
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
    ) -> Head:
        """Change the head; a change of nothing writes nothing (no rowVersion bump).

        `edits` (--set/--unset) apply in order to `config` if given, else to
        the current draft; only the result is validated.
        """
        from . import pipeline

        if name is not None:
            _check_text("name", name, required=True)
        if description is not None:
            _check_text("description", description, single_line=False)
        if status is not None:
            _check_status(status)
        if config is not None and not edits:
            pipeline.validate(config)
        files = self.resolve(flow)
        with self.store.flow_lock(files, self.lock_timeout):
            head = journal.recover(files)
            _check_row_version(head, row_version)
            if edits:
                from . import pointers

                # Under the lock: the edits apply to the draft as it is now, not as it was read.
                config = pointers.apply(head["draftConfig"] if config is None else config, edits)
                pipeline.validate(config)
            wanted: dict[str, Any] = {
                "name": name,
                "description": description,
                "status": status,
                "autoAssembly": auto_assembly,
                "draftConfig": config,
            }
            fields = {
                field: value
                for field, value in wanted.items()
                if value is not None and not jsonio.same_bytes(value, head[field])  # type: ignore[literal-required]
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
            _check_row_version(head, row_version)
            # Also under the tenant's lock, like every entry of the tenant directory
            # (create's staging, repair's cleanup): the moved-away directory is then
            # never seen by `verify` as a stray, nor removed by repair under our feet.
            with self.store.tenant_lock(self.tenant, self.lock_timeout):
                journal.delete_flow(files)
        return head

    def publish(
        self, flow: str, *, notes: str = "", row_version: int | None = None, dry_run: bool = False
    ) -> Release:
        """Snapshot the draft as version latest+1 and make it active."""
        from . import pipeline

        _check_text("notes", notes, single_line=False)
        files = self.resolve(flow)
        with self.store.flow_lock(files, self.lock_timeout):
            head = journal.preview(files) if dry_run else journal.recover(files)
            _check_row_version(head, row_version)
            draft = head["draftConfig"]
            pipeline.check_publishable(draft)
            return self._release(
                files, head, draft, notes=notes, source={"action": "publish"}, dry_run=dry_run
            )

    def rollback(
        self,
        flow: str,
        *,
        version: int | None = None,
        notes: str = "",
        expected_current_version: int | None = None,
        row_version: int | None = None,
        dry_run: bool = False,
    ) -> Release:
        """Append version latest+1 holding version `version`'s config; history stays.

        Without `version`: the version active before the current one (undo).
        """
        _check_text("notes", notes, single_line=False)
        files = self.resolve(flow)
        with self.store.flow_lock(files, self.lock_timeout):
            head = journal.preview(files) if dry_run else journal.recover(files)
            _check_row_version(head, row_version)
            key, active = head["key"], head["activeVersion"]
            if expected_current_version is not None and expected_current_version != active:
                raise Conflict(
                    f"flow {key!r} has active version {_v(active)}, not v{expected_current_version}: "
                    "someone released meanwhile; check `flowctl versions` and retry"
                )
            if active is None:
                raise NotFound(f"flow {key!r} has no published version: nothing to roll back to")
            if version is None:
                # Every release makes the new version active, so the one active
                # before the current one is the version just below it.
                if active <= 1:
                    raise NotFound(f"flow {key!r} has no version before v{active} to go back to")
                version = active - 1
            if version == active:
                raise Conflict(f"v{version} is already the active version of flow {key!r}: nothing to roll back")
            target = reading.read_snapshot(files, head, version, check=True)
            current = reading.read_snapshot(files, head, active)
            if current["configSha256"] == target["configSha256"]:
                raise Conflict(
                    f"the active version v{active} of flow {key!r} already has v{version}'s config: "
                    "no version written"
                )
            label = f"Rollback to v{version}"
            return self._release(
                files,
                head,
                target["configSnapshot"],
                notes=f"{label}: {notes}" if notes else label,
                source={"action": "rollback", "restoredVersion": version, "previousVersion": active},
                dry_run=dry_run,
            )

    def _release(
        self,
        files: FlowFiles,
        head: Head,
        config: dict[str, Any],
        *,
        notes: str,
        source: dict[str, Any],
        dry_run: bool,
    ) -> Release:
        from . import pipeline

        at = records.now()
        active = head["activeVersion"]
        previous_config = (
            reading.read_snapshot(files, head, active)["configSnapshot"] if active is not None else None
        )
        snapshot = records.new_snapshot(
            head,
            version=head["latestVersion"] + 1,
            at=at,
            actor=self.actor,
            notes=notes,
            source=source,
            summary=pipeline.summary(config),  # type: ignore[arg-type]
            config=config,
        )
        new = records.head_after_release(head, snapshot)
        if not dry_run:
            audit = reading.release_audit(snapshot, new["rowVersion"])
            journal.commit_release(files, audit, snapshot, new)
        return Release(new, snapshot, active, previous_config, dry_run)


def _v(version: int | None) -> str:
    return f"v{version}" if version is not None else "none"


def _new_id(tenant: str, key: str, taken: set[str]) -> str:
    """flow_ + 12 hex chars; derived from SOURCE_DATE_EPOCH when it is set, so
    reproducible runs write byte-identical files."""
    import hashlib

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        salt = 0
        while True:
            digest = hashlib.sha256(f"{epoch}/{tenant}/{key}/{salt}".encode()).hexdigest()[:12]
            if f"flow_{digest}" not in taken:
                return f"flow_{digest}"
            salt += 1
    while True:
        candidate = f"flow_{os.urandom(6).hex()}"
        if candidate not in taken:
            return candidate

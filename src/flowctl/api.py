"""Reading flows from Python: `open_store`, `Store`, `Flow`.

The one documented way for a program to read a flowctl store, and the one
the CLI's read commands use. It finds the store and decides the tenant
exactly as the CLI does (docs/contract.md §1, §2, §9), wraps the core
(`flows.Flows`, `reading`), and never prints or exits: every failure is a
`FlowctlError` carrying the CLI's message and exit code.

    import flowctl

    store = flowctl.open_store()              # --store / $FLOWCTL_STORE / nearest flowctl.toml
    flow = store.get("credit-card-nba")       # key or id; flowctl.NotFound (exit_code 3) if absent
    config = flow.config("active")            # the live config

Reading an active config imports neither typer, rich nor pydantic
(tests/test_api.py checks it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from . import jsonio, kinds, reading
from .errors import BadInput
from .flows import Flows, default_actor, version_number
from .names import check_tenant
from .paging import Page
from .reading import mark_lines, versions_lines
from .records import Head, Snapshot, VersionEntry
from .store import FlowFiles
from .store import Store as _StoreRoot

__all__ = ["Flow", "Store", "connect", "open_store", "resolve_actor", "resolve_tenant"]

_DEFAULT_LOCK_TIMEOUT = 10.0


# -- what the CLI and open_store share: store, tenant and actor -------------------


def resolve_tenant(store_root: _StoreRoot, tenant: str | None) -> str:
    """The tenant to act in: `tenant` when given, else `$FLOWCTL_TENANT` when set,
    else the store's `default_tenant` (docs/contract.md §2).

    An empty tenant, given or from the environment, is a bad name
    (`BadInput`, exit 2), never "the default": falling back silently would
    read or change another tenant's flows.
    """
    chosen = tenant if tenant is not None else os.environ.get("FLOWCTL_TENANT")
    return check_tenant(store_root.default_tenant if chosen is None else chosen)


def resolve_actor(actor: str | None) -> str:
    """Who is acting: `actor` when non-empty, else `$FLOWCTL_ACTOR` when
    non-empty, else the login name, else `unknown` (docs/contract.md §2)."""
    return _given_actor(actor) or default_actor()


def _given_actor(actor: str | None) -> str | None:
    """`actor`, else `$FLOWCTL_ACTOR`, when non-empty; None: the login name."""
    return actor or os.environ.get("FLOWCTL_ACTOR") or None


def connect(
    path: str | os.PathLike[str] | None = None,
    tenant: str | None = None,
    actor: str | None = None,
    lock_timeout: float | None = None,
) -> Flows:
    """The core `Flows` object of one tenant: the store found as the CLI finds it
    (`path`, else `$FLOWCTL_STORE`, else the nearest `flowctl.toml` upward),
    tenant and actor decided by `resolve_tenant` and `resolve_actor`.

    The CLI's global options go through here, and so does `open_store`.
    """
    store_root = _StoreRoot.discover(None if path is None else os.fspath(path))
    return Flows(
        store=store_root,
        tenant=resolve_tenant(store_root, tenant),
        actor=_given_actor(actor),  # None: Flows looks the login name up when a write needs it
        lock_timeout=_DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
    )


def open_store(path: str | os.PathLike[str] | None = None, tenant: str | None = None) -> Store:
    """Open the store for reading, as the CLI would.

    `path` is the store root (default: `$FLOWCTL_STORE`, else the nearest
    ancestor of the working directory holding `flowctl.toml`); `tenant`
    defaults to `$FLOWCTL_TENANT`, else the store's default tenant. No store
    is `NotFound` (exit 3), an empty `path` or `tenant` is `BadInput`
    (exit 2), a damaged `flowctl.toml` is `IntegrityError` (exit 8).
    """
    return Store(connect(path, tenant))


def _selector(which: object, words: tuple[str, ...]) -> str | int:
    """`which` if it names a version ('active', 'latest', 'draft' where allowed,
    or a number), else BadInput."""
    if isinstance(which, int) and not isinstance(which, bool):
        return which
    if isinstance(which, str) and which in words:
        return which
    raise BadInput(f"version {which!r} is not a version number or one of {', '.join(words)}")


# -- the facade ------------------------------------------------------------------


class Store:
    """The flows of one tenant of a store, read-only. Made by `open_store`."""

    __slots__ = ("_flows",)

    def __init__(self, flows: Flows) -> None:
        """Wrap a core `Flows` object (see `connect`); use `open_store` to make one."""
        self._flows = flows

    def __repr__(self) -> str:
        return f"<flowctl.Store {str(self.root)!r} tenant={self.tenant!r}>"

    @property
    def root(self) -> Path:
        """The store's root directory (the one holding `flowctl.toml`)."""
        return self._flows.store.root

    @property
    def tenant(self) -> str:
        """The tenant whose flows this store reads."""
        return self._flows.tenant

    def get(self, flow: str) -> Flow:
        """The flow named by `flow`, a key or an id (the key is tried first).

        A name that is not a valid key is `BadInput` (exit 2); no such flow in
        this tenant is `NotFound` (exit 3); a damaged `flow.json` is
        `IntegrityError` (exit 8).
        """
        if not isinstance(flow, str):
            raise BadInput(f"a flow is named by a key or id string, not {type(flow).__name__}")
        files = self._flows.resolve(flow)
        return Flow(files, reading.current_head(files), signed="signing" in self._flows.store.settings)

    def list(self, status: str | None = None) -> Iterator[Head]:
        """The heads of the tenant's flows in `flowctl list` order: status
        (active, draft, paused, archived), then updatedAt newest first, then key.

        `status` keeps only flows with that status; another value is
        `BadInput` (exit 2), raised by this call, not by the iteration.
        """
        return iter(self._flows.list(status=status, limit=sys.maxsize).flows)

    def page(self, status: str | None = None, limit: int = 25, cursor: str | None = None,
             kind: str | None = None) -> Page:
        """One page of `list`, as `flowctl list --limit --cursor` shows it: the
        heads (of `status`, of `kind`), the total after the filter, and the cursor
        of the next page (None on the last). A cursor not from a page is
        `BadInput` (exit 2)."""
        return self._flows.list(status=status, limit=limit, cursor=cursor, kind=kind)

    def export(self, flow: str) -> dict[str, Any]:
        """The bundle of `flow`, as `flowctl export` writes it: the head, every
        snapshot (each checksum checked, `IntegrityError` when one fails) and
        the audit log; `flowctl import` reads it back."""
        from . import bundle

        return bundle.export_flow(self._flows, flow)


class Flow:
    """One flow as `Store.get` read it: its head, and its versions, configs and
    history as of that head. A publish made meanwhile shows in the next
    `Store.get`, not in this object. Records are plain dicts, as stored."""

    __slots__ = ("_files", "_head", "_signed")

    def __init__(self, files: FlowFiles, head: Head, signed: bool = False) -> None:
        """A flow's files and its head as read; use `Store.get` to make one.
        `signed`: the store signs releases, so every version entry tells who signed
        it (`"signature": null` when nobody did)."""
        self._files = files
        self._head = head
        self._signed = signed

    def __repr__(self) -> str:
        return f"<flowctl.Flow {self.key!r} active={self.active_version!r} latest={self.latest_version}>"

    @property
    def head(self) -> Head:
        """The head record (`flow.json`, docs/contract.md §3.1), as `show --json` prints it."""
        return self._head

    @property
    def key(self) -> str:
        """The flow's key."""
        return self._head["key"]

    @property
    def id(self) -> str:
        """The flow's id."""
        return self._head["id"]

    @property
    def active_version(self) -> int | None:
        """The version now live, or None before the first publish."""
        return self._head["activeVersion"]

    @property
    def latest_version(self) -> int:
        """The highest published version (0 before the first publish)."""
        return self._head["latestVersion"]

    def config(self, which: str | int = "active") -> dict[str, Any]:
        """A config of the flow: "active" (the live one), "latest", "draft", or a
        version number. A version the flow does not have (also "active" before
        the first publish) is `NotFound` (exit 3)."""
        selector = _selector(which, ("active", "latest", "draft"))
        if selector == "draft":
            return self._head["draftConfig"]
        return self.snapshot(selector)["configSnapshot"]

    def snapshot(self, which: str | int = "active") -> Snapshot:
        """The full record of a version (`versions/NNNNNN.json`, §3.2): a number,
        "active" or "latest"; `NotFound` (exit 3) when there is none."""
        selector = _selector(which, ("active", "latest"))
        return reading.read_snapshot(self._files, self._head, version_number(self._head, selector))

    def document(self) -> dict[str, Any]:
        """The head as `show --json` prints it: the record, and for a workflow what
        the workflow API derives from it, `hasDraft` (the draft differs from the
        active config) and `hasLiveVersion` (a version is active)."""
        head: dict[str, Any] = dict(self._head)
        if head["kind"] == "workflow":
            active = head["activeVersion"]
            live_sha = self.snapshot(active)["configSha256"] if active is not None else None
            head["hasDraft"] = jsonio.config_sha256(head["draftConfig"]) != live_sha
            head["hasLiveVersion"] = active is not None
        return head

    def versions(self) -> list[VersionEntry]:
        """Every version's summary (§3.3: version, publishedAt, publishedBy, notes,
        source, summary), oldest first, as `flowctl versions --json` lists them;
        a policy's each carry `active` (true on the active one), as the policy
        versions endpoint does."""
        entries = reading.read_versions(self._files, self._head)
        active = self._head["activeVersion"]
        marks_active = self._marks_active()
        if self._signed or marks_active:
            entries = [cast(VersionEntry, {
                **entry, **({"signature": dict(entry).get("signature")} if self._signed else {}),
                **({"active": entry["version"] == active} if marks_active else {})}) for entry in entries]
        return entries

    def versions_lines(self) -> list[bytes]:
        """The same summaries as compact JSON, one `bytes` line each (no newline),
        oldest first, taken from the version index as stored when it is sound:
        10,000 versions build no dicts (`versions --json` splices them)."""
        return mark_lines(versions_lines(self._files, self._head), self._head, self._signed)

    def versions_items(self) -> bytes:
        """`versions_lines` joined by ", ": the items of `versions --json`,
        spliced from the index's bytes when nothing is added to each line."""
        if not self._signed and not self._marks_active():
            items = reading.index_items(self._files, self._head)
            if items is not None:
                return items
        return b", ".join(self.versions_lines())

    def _marks_active(self) -> bool:
        return kinds.kind(self._head["kind"]).rollback == "swap"

    def history(self) -> list[dict[str, Any]]:
        """The committed audit entries (§3.4), oldest first."""
        return reading.read_audit(self._files, self._head)

"""Who may do what: the roles of the store's `[access]` table, per action.

A store without `[access]` in flowctl.toml has no policy and allows every
action, as store format 1 always did; the table is opt-in. With it, each
action needs a role (`ACTIONS`, overridable per action by `[access.require]`)
and each role lists its principals (actor names, `"*"` for anyone). Roles nest:
an admin holds editor and viewer, an editor holds viewer, so a list names only
who is added at that level. `[access.tenants.<tenant>]` replaces the whole
table for one tenant (its roles and its `require`; a tenant table without
`require` uses the defaults, not the top-level overrides), so a tenant's
policy reads in one place.

The actor is whoever --actor/$FLOWCTL_ACTOR says it is: the policy guards
against mistakes, it does not authenticate (signed releases do that).

A malformed table is a broken store setting, so it is an IntegrityError
(exit 8) naming the key path and how to fix it, raised when the policy is
loaded and before anything is checked; a refusal is Forbidden (exit 6).
Stdlib only and cheap: every command may load the policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import Forbidden, IntegrityError
from .jsonio import shown

ACTIONS: dict[str, str] = {
    "show": "viewer", "versions": "viewer", "list": "viewer", "diff": "viewer",
    "history": "viewer", "export": "viewer", "verify": "viewer",
    "create": "editor", "update": "editor", "edit": "editor", "publish": "editor",
    "import": "editor", "delete": "editor",
    "repair": "editor",  # `verify --repair`: it writes
    "rollback": "admin",
}
"""Every action the policy knows, and the role it needs by default."""

ROLES = ("viewer", "editor", "admin")
"""The roles, lowest first: each one holds every role before it."""

ANYONE = "*"
_TABLE_KEYS = (*ROLES, "require")
_SHOWN_HOLDERS = 5  # holders a refusal names before "and N more"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def _key(name: str) -> str:
    """`name` as a TOML key path shows it: bare when it can be, else quoted."""
    return name if _BARE_KEY.match(name) else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kind(value: object) -> str:
    """What a TOML value is, in the words of the file's author."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string" if value else "an empty string"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class _Table:
    """One `[access]`-shaped table: the principals each role lists (file order) and
    the role each action needs."""

    where: str  # the table's header, for messages: "[access]" or "[access.tenants.acme]"
    members: tuple[tuple[str, tuple[str, ...]], ...]
    require: Mapping[str, str]


def _load_table(table: Mapping[str, Any], path: str, source: str, allowed: tuple[str, ...]) -> _Table:
    """Check one table and read it; `path` is its key path (`access`, `access.tenants.acme`)."""

    def broken(where: str, what: str, fix: str) -> IntegrityError:
        return IntegrityError(f"{source}: {where} {what}; fix {where} in {source}: {fix}")

    for name in table:
        if name not in allowed:
            raise broken(f"{path}.{_key(name)}", "is not an access setting",
                         f"use {', '.join(allowed)}, or remove it")
    members: list[tuple[str, tuple[str, ...]]] = []
    for role in (name for name in table if name in ROLES):
        value, where = table[role], f"{path}.{role}"
        fix = f'a list of principal names, e.g. {role} = ["alice"] ("*" for anyone)'
        if not isinstance(value, list):
            raise broken(where, f"must be a list of principal names, not {_kind(value)}", fix)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise broken(f"{where}[{i}]", f"must be a principal name, not {_kind(item)}", fix)
        members.append((role, tuple(value)))
    require = dict(ACTIONS)
    overrides = table.get("require", {})
    where = f"{path}.require"
    if not isinstance(overrides, dict):
        raise broken(where, f"must be a table of action = role, not {_kind(overrides)}",
                     'e.g. [access.require] with rollback = "editor"')
    for action, role in overrides.items():
        if action not in ACTIONS:
            raise broken(f"{where}.{_key(action)}", "is not an action flowctl knows",
                         f"use one of {', '.join(ACTIONS)}, or remove it")
        if role not in ROLES:
            got = shown(role) if isinstance(role, str) else _kind(role)
            raise broken(f"{where}.{_key(action)}", f"must be a role, not {got}",
                         'use "viewer", "editor" or "admin"')
        require[action] = role
    return _Table(f"[{path}]", tuple(members), require)


@dataclass(frozen=True)
class AccessPolicy:
    """The store's `[access]` table, checked: the top-level roles and each tenant's."""

    default: _Table
    tenants: Mapping[str, _Table]
    source: str = "flowctl.toml"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], source: str = "flowctl.toml") -> AccessPolicy | None:
        """The policy of a parsed flowctl.toml, or None when it has no `[access]` table
        (then everything is allowed); IntegrityError when the table is malformed."""
        if "access" not in settings:
            return None
        access = settings["access"]
        if not isinstance(access, dict):
            raise IntegrityError(f"{source}: access must be a table, not {_kind(access)}; fix access in "
                                 f'{source}: an [access] table, e.g. editor = ["alice"]')
        default = _load_table(access, "access", source, (*_TABLE_KEYS, "tenants"))
        tenants_table = access.get("tenants", {})
        if not isinstance(tenants_table, dict):
            raise IntegrityError(f"{source}: access.tenants must be a table of tenant tables, not "
                                 f"{_kind(tenants_table)}; fix access.tenants in {source}: "
                                 'e.g. [access.tenants.acme] with editor = ["bob"]')
        tenants: dict[str, _Table] = {}
        for tenant, table in tenants_table.items():
            path = f"access.tenants.{_key(tenant)}"
            if not isinstance(table, dict):
                raise IntegrityError(f"{source}: {path} must be a table, not {_kind(table)}; fix {path} in "
                                     f'{source}: e.g. [{path}] with editor = ["bob"]')
            tenants[tenant] = _load_table(table, path, source, _TABLE_KEYS)
        return cls(default, tenants, source)

    def _table(self, tenant: str) -> _Table:
        return self.tenants.get(tenant, self.default)

    def required_role(self, action: str, tenant: str) -> str:
        """The role `action` needs in `tenant` (ValueError for an action flowctl does not know:
        a caller's bug, not a user's)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: known are {', '.join(ACTIONS)}")
        return self._table(tenant).require[action]

    def holders(self, role: str, tenant: str) -> list[str]:
        """Who holds `role` in `tenant`, directly or through a higher role: the principals
        of those lists in file order, each once (`"*"` stays `"*"`)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: known are {', '.join(ROLES)}")
        enough = ROLES[ROLES.index(role):]
        found: dict[str, None] = {}
        for listed, principals in self._table(tenant).members:
            if listed in enough:
                found.update(dict.fromkeys(principals))
        return list(found)

    def allows(self, actor: str, action: str, tenant: str) -> bool:
        """Whether `actor` (compared exactly, case counts) may do `action` in `tenant`."""
        holders = self.holders(self.required_role(action, tenant), tenant)
        return ANYONE in holders or actor in holders

    def check(self, actor: str, action: str, tenant: str) -> None:
        """Return if `actor` may do `action` in `tenant`, else raise Forbidden saying which
        role it needs and who holds it."""
        if self.allows(actor, action, tenant):
            return
        role = self.required_role(action, tenant)
        holders = self.holders(role, tenant)
        table = self._table(tenant)
        if holders:
            named = ", ".join(holders[:_SHOWN_HOLDERS])
            more = len(holders) - _SHOWN_HOLDERS
            held = f"held by {named}" + (f" and {more} more" if more > 0 else "")
            held += f" (see {table.where} in {self.source})"
            hint: str | None = "pass --actor NAME of a principal who holds it"
        else:
            held = f"held by nobody: add a principal to {table.where.strip('[]')}.{role} in {self.source}"
            hint = None
        raise Forbidden(f"actor {shown(actor)} may not {action} in tenant {shown(tenant)}: "
                        f"it needs the {role} role, {held}", hint=hint)


def check(settings: Mapping[str, Any], actor: str, action: str, tenant: str) -> None:
    """Raise Forbidden unless the store's settings let `actor` do `action` in `tenant`;
    a store without `[access]` allows everything."""
    policy = AccessPolicy.from_settings(settings)
    if policy is not None:
        policy.check(actor, action, tenant)

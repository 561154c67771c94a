"""Value completion for shell TAB: the flow keys and version numbers of the store.

The scripts in completions/ (and `--install-completion`) make the shell run
flowctl again on every TAB, so these completers read as little as they can
(the tenant's directory listing, one flow head) and import neither rich nor
pydantic. They never fail: whatever goes wrong, they offer nothing, as a
TAB must not print an error into the user's command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import typer


def _given(ctx: Any, name: str) -> Any:
    """A global option's value, given before the command or after it."""
    while ctx is not None:
        value = ctx.params.get(name)
        if value is not None:
            return value
        ctx = ctx.parent
    return None


def _flows(ctx: Any) -> Any:
    """The flows of the store and tenant the command line points at (SPEC §1, §2)."""
    from ..flows import Flows
    from ..store import Store

    store = Store.discover(_given(ctx, "store"))
    tenant = _given(ctx, "tenant") or os.environ.get("FLOWCTL_TENANT") or store.default_tenant
    return Flows(store, tenant, actor="completion")


def _flow_given(ctx: Any) -> str:
    """The FLOW argument. Click stops parsing at the option whose value is being
    completed, so a FLOW given before it is still among the unparsed args."""
    return ctx.params.get("flow") or ctx.args[0]


def complete_flow(ctx: typer.Context, incomplete: str) -> list[str]:
    """FLOW: the keys of the tenant's flows."""
    try:
        flows = _flows(ctx)
        return [key for key in flows.store.flow_keys(flows.tenant) if key.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - see the module docstring
        return []


def version_completer(*words: str) -> Callable[[typer.Context, str], list[str]]:
    """A completer of `--version` for FLOW: its version numbers, newest first, then `words`."""

    def complete_version(ctx: typer.Context, incomplete: str) -> list[str]:
        from .. import journal

        try:
            flows = _flows(ctx)
            head = journal.current_head(flows.resolve(_flow_given(ctx)))
            # Numbering is 1..latestVersion without gaps (verify checks it): the head says it all.
            candidates = [str(number) for number in range(head["latestVersion"], 0, -1)] + list(words)
            return [candidate for candidate in candidates if candidate.startswith(incomplete)]
        except Exception:  # noqa: BLE001 - see the module docstring
            return []

    return complete_version

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

NOTHING = "%flowctl-nothing%"
"""The answer of a FLOW or version completer with nothing to offer, when the
shell asks for it (ASKS_FOR_NOTHING is set, as by the scripts in completions/).

Typer's protocol sends values only, so an empty answer cannot tell "this
takes flow keys and there are none" from "this takes a free value such as a
file name", and the shells complete file names on any empty answer. The
scripts drop this answer and offer nothing; without the variable (typer's
own `--install-completion` script) it is never sent, as that script would
show it."""

ASKS_FOR_NOTHING = "_FLOWCTL_COMPLETE_NOTHING"


def _offer(candidates: list[str], incomplete: str) -> list[str]:
    """The candidates that start with `incomplete`; if none, NOTHING when the shell asks for it."""
    matches = [candidate for candidate in candidates if candidate.startswith(incomplete)]
    if matches or os.environ.get(ASKS_FOR_NOTHING) != "1":
        return matches
    return [incomplete + NOTHING]  # typer drops any value that does not start with what is typed

_MAX_VERSIONS = 1000  # version numbers offered on a TAB, newest first


def _given(ctx: Any, name: str) -> Any:
    """A global option's value, given before the command or after it."""
    while ctx is not None:
        value = ctx.params.get(name)
        if value is not None:
            return value
        ctx = ctx.parent
    return None


def _flows(ctx: Any) -> Any:
    """The flows of the store and tenant the command line points at (docs/contract.md §1, §2),
    found by the CLI's own rule, so an empty tenant is an error here too."""
    from .common import Settings

    return Settings(store=_given(ctx, "store"), tenant=_given(ctx, "tenant"), actor="completion").flows()


def _flow_given(ctx: Any) -> str:
    """The FLOW argument. Click stops parsing at the option whose value is being
    completed, so a FLOW given before it is still among the unparsed args."""
    flow: str = ctx.params.get("flow") or ctx.args[0]
    return flow


def complete_flow(ctx: typer.Context, incomplete: str) -> list[str]:
    """FLOW: the keys of the tenant's flows."""
    try:
        flows = _flows(ctx)
        keys = flows.store.flow_keys(flows.tenant)
    except Exception:
        keys = []
    return _offer(keys, incomplete)


def version_completer(*words: str) -> Callable[[typer.Context, str], list[str]]:
    """A completer of `--version` for FLOW: its version numbers, newest first, then `words`."""

    def complete_version(ctx: typer.Context, incomplete: str) -> list[str]:
        try:
            head = _flows(ctx).get(_flow_given(ctx))
            # Numbering is 1..latestVersion without gaps (verify checks it): the head says it all.
            # The newest _MAX_VERSIONS only, so a hand-edited latestVersion of 10**12 cannot hang a TAB.
            latest = head["latestVersion"]
            numbers = range(latest, max(0, latest - _MAX_VERSIONS), -1)
            candidates = [str(number) for number in numbers] + list(words)
        except Exception:
            candidates = []
        return _offer(candidates, incomplete)

    return complete_version

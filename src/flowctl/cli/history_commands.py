"""The audit log of a flow: history."""

from typing import Annotated

import typer

from .app import commands
from .common import Settings, command, emit_json
from .options import FlowArgument


@command(commands, "history")
def history(
    settings: Settings,
    flow: FlowArgument,
    limit: Annotated[int | None, typer.Option("--limit", min=1, show_default="all",
                                              help="Show only the newest N entries.")] = None,
) -> None:
    """Show who changed the flow, when and how: its audit log, newest first.

    With --json, the entries as a list, timestamps in ISO 8601.

    Example: flowctl history credit-card-nba --limit 10
    """
    entries = settings.open_store().get(flow).history()[::-1][:limit]
    if settings.json:
        emit_json(entries)
    else:
        from .. import render

        render.history(flow, entries, no_color=settings.no_color)

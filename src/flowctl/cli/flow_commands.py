"""Commands on flows as a whole: init, create, update, list, delete, show."""

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import kinds
from ..errors import BadInput
from .app import commands
from .common import Settings, command, emit_json, emit_result
from .completion import version_completer
from .config_edits import OrderedEditsCommand, SetOption, UnsetOption, edits
from .options import (
    ConfigOption,
    FlowArgument,
    KindName,
    KindOption,
    PausedReason,
    QuietOption,
    RowVersionOption,
    ShowFormat,
    SourceOption,
    Status,
    parse_version,
    read_config,
    read_source,
)
from .output import print_record


@commands.command("init")
def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to make the store.", show_default=".")] = Path("."),
    json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Make a store: flowctl.toml, .gitignore and flows/.

    Example: flowctl init config-repo
    """
    from ..store import Store

    root = Store.init(directory)
    # --json may also stand before the command (`flowctl --json init`), like every global option.
    if json or (isinstance(ctx.obj, Settings) and ctx.obj.json):
        emit_json({"store": str(root)})
    else:
        print(f"Initialized empty flowctl store in {root}")


@command(commands, "create")
def create(
    settings: Settings,
    key: Annotated[str, typer.Argument(help="The new flow's key: a-z 0-9 . _ -, used as its directory name.")],
    name: Annotated[str, typer.Option("--name", help="A human name for the flow.", show_default=False)],
    description: Annotated[str, typer.Option("--description", help="What the flow is for.")] = "",
    status: Annotated[Status, typer.Option("--status", help="Initial status.")] = Status.draft,
    auto_assembly: Annotated[bool, typer.Option("--auto-assembly/--no-auto-assembly", help="Auto assembly.")] = True,
    config: ConfigOption = None,
    source: SourceOption = None,
    flow_id: Annotated[str | None, typer.Option("--id", help="The id (default: flow_ + 12 hex chars).",
                                                   show_default=False)] = None,
    kind: Annotated[KindName, typer.Option("--kind", help="What the flow is; it never changes.")]
        = KindName.decision_flow,
    quiet: QuietOption = False,
) -> None:
    """Create a flow with its kind's default draft (or --config), at rowVersion 1.

    Example: flowctl create credit-card-nba --name "Credit card NBA"

    Example: flowctl create loan-approval --kind policy --name "Loan approval" --source loan.aster
    """
    text, document = read_source(source, config), read_config(config)
    head = settings.write(lambda flows: flows.create(
        key, name=name, description=description, status=status.value, auto_assembly=auto_assembly,
        source_text=text, config=document, flow_id=flow_id, kind=kind.value,
    ))
    emit_result(settings, head, quiet=quiet, essential=head["key"],
                message=f"Created {kinds.kind(head['kind']).noun} {head['key']} ({head['id']}), "
                        f"status {head['status']}, rowVersion 1")


@command(commands, "update", cls=OrderedEditsCommand)
def update(
    settings: Settings,
    flow: FlowArgument,
    name: Annotated[str | None, typer.Option("--name", show_default=False, help="New name.")] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False,
                                                       help="New description.")] = None,
    status: Annotated[Status | None, typer.Option("--status", show_default=False, help="New status.")] = None,
    auto_assembly: Annotated[bool | None, typer.Option("--auto-assembly/--no-auto-assembly",
                                                          show_default=False, help="Auto assembly.")] = None,
    config: ConfigOption = None,
    source: SourceOption = None,
    set_edits: SetOption = None,
    unset_edits: UnsetOption = None,
    paused_reason: Annotated[PausedReason | None, typer.Option(
        "--paused-reason", show_default=False, help="Why a workflow is paused (with --status paused).")] = None,
    kind: Annotated[KindName | None, typer.Option(
        "--kind", show_default=False, help="Checked only: a flow's kind never changes.")] = None,
    row_version: RowVersionOption = None,
    quiet: QuietOption = False,
) -> None:
    """Edit the flow's head and draft; a new draft is validated.

    --set and --unset edit the draft (or the --config file) in the order given,
    at the paths `diff --format json` prints. An update that changes nothing
    writes nothing (no rowVersion bump).

    Example: flowctl update credit-card-nba --config draft.json --row-version 3

    Example: flowctl update credit-card-nba --set '/nodes/score/config/method="scorecard"'
    """
    flows = settings.flows()
    text = read_source(source, config)  # first: it refuses --config - beside --source - before stdin is read
    document, changes = read_config(config), edits(set_edits, unset_edits)
    head = settings.write(lambda flows: flows.update(
        flow, name=name, description=description, status=status.value if status else None,
        auto_assembly=auto_assembly, config=document, edits=changes,
        row_version=row_version, kind=kind.value if kind else None,
        paused_reason=paused_reason.value if paused_reason else None, source_text=text,
    ), flows)
    # Flows.update writes nothing when nothing would change, and says so in
    # `last_update_changed`; "Updated" would then claim a write that did not happen.
    if flows.last_update_changed:
        message = f"Updated {kinds.kind(head['kind']).noun} {head['key']}: rowVersion {head['rowVersion']}"
    else:
        message = (f"No change: {kinds.kind(head['kind']).noun} {head['key']} is already as given "
                   f"(rowVersion {head['rowVersion']})")
    emit_result(settings, head, quiet=quiet, essential=head["rowVersion"], message=message)


@command(commands, "list")
def list_flows(
    settings: Settings,
    status: Annotated[Status | None, typer.Option("--status", show_default=False,
                                                  help="Only flows with this status.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Flows per page.")] = 25,
    cursor: Annotated[str | None, typer.Option("--cursor", show_default=False,
                                               help="Continue after a previous page.")] = None,
    kind: KindOption = None,
) -> None:
    """List flows: active first, then draft, paused, archived; newest first.

    Example: flowctl list --status active --limit 10
    """
    page = settings.open_store().page(status=status.value if status else None, limit=limit, cursor=cursor,
                                      kind=kind.value if kind else None)
    if settings.json:
        emit_json({
            "data": page.flows,
            "pagination": {"total": page.total, "limit": page.limit,
                           "hasMore": page.next_cursor is not None, "nextCursor": page.next_cursor},
        })
    else:
        from .. import plain

        if plain.on_terminal():
            from .. import render

            render.flows(page, no_color=settings.no_color)
        else:  # a pipe or a log: one line per flow, and rich is not even imported
            sys.stdout.write(plain.flows(page))


@command(commands, "delete")
def delete(
    settings: Settings,
    flow: FlowArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask; required off a terminal.")] = False,
    row_version: RowVersionOption = None,
    quiet: QuietOption = False,
) -> None:
    """Delete a flow and its whole history (asks first on a terminal).

    Example: flowctl delete old-promo --yes
    """
    flows = settings.flows()
    if not yes:
        head = flows.get(flow)  # a missing flow is "not found" (3) before anything else
        if not sys.stdin.isatty():
            raise BadInput(f"refusing to delete {flow!r} without --yes when not on a terminal")
        answer = input(f"Delete flow {head['key']} and all {head['latestVersion']} versions? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise BadInput("not confirmed: nothing deleted")
    head = settings.write(lambda flows: flows.delete(flow, row_version=row_version), flows)
    emit_result(settings, {"deleted": True, "id": head["id"], "key": head["key"]}, quiet=quiet,
                essential=head["key"],
                message=f"Deleted flow {head['key']} ({head['id']}) and its {head['latestVersion']} versions")


@command(commands, "show")
def show(
    settings: Settings,
    flow: FlowArgument,
    version: Annotated[str | None, typer.Option("--version", metavar="N|active|latest|draft",
                                                show_default=False,
                                                autocompletion=version_completer("active", "latest", "draft"),
                                                help="Show a version's snapshot (or the draft config).")] = None,
    output_format: Annotated[ShowFormat | None, typer.Option("--format", show_default=False,
                                                             help="Print as JSON or TOML.")] = None,
) -> None:
    """Show the flow's head, or one version's full snapshot.

    Example: flowctl show credit-card-nba --version 3 --format json
    """
    store = settings.open_store()
    which = parse_version(version, words=("active", "latest", "draft")) if version else None
    found = store.get(flow)
    record: Mapping[str, Any]
    if which is None:
        record = found.document() if settings.json or output_format else found.head
    elif which == "draft":
        record = found.config("draft")
    else:
        record = found.snapshot(which)
    print_record(settings, record, output_format, kind="head" if which is None else
                 "config" if which == "draft" else "snapshot")

"""Commands on a flow's versions: publish, versions, rollback."""

from typing import Annotated, Optional

import typer

from .app import commands
from .common import Settings, command, emit_json
from .completion import version_completer
from .flow_commands import print_record
from .options import DryRunOption, FlowArgument, NotesOption, QuietOption, RowVersionOption, parse_version


def _report_release(settings: Settings, release, quiet: bool, extra: dict) -> None:
    """Print what a publish or rollback wrote (or, dry run, would write)."""
    snapshot, head = release.snapshot, release.head
    previous = release.previous_version
    if release.dry_run:
        from .. import diff

        changes = diff.diff_configs(release.previous_config, snapshot["configSnapshot"])
        if settings.json:
            emit_json({"dryRun": True, "version": snapshot["version"], **extra,
                       **diff.to_json(f"v{previous}" if previous else "empty", f"v{snapshot['version']}", changes)})
        elif quiet:
            print(snapshot["version"])
        else:
            from .. import render

            render.message(f"Dry run: would write {head['key']} v{snapshot['version']} "
                           f"({snapshot['notes'] or snapshot['source']['action']}); nothing written.",
                           no_color=settings.no_color)
            render.message(f"Changes from {'v' + str(previous) if previous else 'empty'}:", no_color=settings.no_color)
            render.diff_lines(diff.text_lines(changes), no_color=settings.no_color)
        return
    if settings.json:
        emit_json(extra.get("json", head))
    elif quiet:
        print(snapshot["version"])
    else:
        print(extra["human"])


@command(commands, "publish")
def publish(
    settings: Settings,
    flow: FlowArgument,
    notes: NotesOption = "",
    row_version: RowVersionOption = None,
    dry_run: DryRunOption = False,
    quiet: QuietOption = False,
) -> None:
    """Snapshot the draft as the next version and make it active.

    Example: flowctl publish credit-card-nba -m "new scorecard"
    """
    release = settings.flows().publish(flow, notes=notes, row_version=row_version, dry_run=dry_run)
    version = release.snapshot["version"]
    _report_release(settings, release, quiet, {} if dry_run else {
        "human": f"Published {release.head['key']} v{version} (active; rowVersion {release.head['rowVersion']})",
    })


@command(commands, "versions")
def versions(
    settings: Settings,
    flow: FlowArgument,
    version: Annotated[Optional[str], typer.Option("--version", metavar="N", show_default=False,
                                                   autocompletion=version_completer("active", "latest"),
                                                   help="Show this version's full snapshot instead.")] = None,
) -> None:
    """List the flow's published versions, oldest first, the active one marked.

    Example: flowctl versions credit-card-nba
    """
    flows = settings.flows()
    if version is not None:
        print_record(settings, flows.snapshot(flow, parse_version(version, words=("active", "latest"))),
                     None, kind="snapshot")
        return
    head, entries = flows.versions(flow)
    if settings.json:
        emit_json({"flowId": head["id"], "versions": entries})
    else:
        from .. import render

        render.versions(head, entries, no_color=settings.no_color)


@command(commands, "rollback")
def rollback(
    settings: Settings,
    flow: FlowArgument,
    version: Annotated[Optional[str], typer.Option("--version", metavar="N", show_default=False,
                                                   autocompletion=version_completer(),
                                                   help="The version to restore (default: the one "
                                                        "active before the current one).")] = None,
    notes: NotesOption = "",
    expected_current_version: Annotated[Optional[int], typer.Option(
        "--expected-current-version", metavar="N", show_default=False,
        help="Fail with exit 4 unless vN is the active version.")] = None,
    row_version: RowVersionOption = None,
    dry_run: DryRunOption = False,
    quiet: QuietOption = False,
) -> None:
    """Restore an earlier version's config as a new version; history is kept.

    From active v5, `--version 3` writes v6 with v3's config, notes
    "Rollback to v3: ...", and resets the draft to it.

    Example: flowctl rollback credit-card-nba --version 3 --notes "v4 mis-scored"
    """
    target = parse_version(version) if version is not None else None
    release = settings.flows().rollback(
        flow, version=target, notes=notes, expected_current_version=expected_current_version,
        row_version=row_version, dry_run=dry_run,
    )
    snapshot, head = release.snapshot, release.head
    restored = snapshot["source"]["restoredVersion"]
    _report_release(settings, release, quiet, {"restoredVersion": restored} if dry_run else {
        "json": {"success": True, "previousVersion": release.previous_version,
                 "currentVersion": snapshot["version"], "restoredVersion": restored, "flow": head},
        "human": f"Rolled back {head['key']} to v{restored}: wrote v{snapshot['version']} with v{restored}'s config "
                 f"(was v{release.previous_version}; active now v{snapshot['version']})",
    })

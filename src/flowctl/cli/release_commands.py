"""Commands on a flow's versions: publish, versions, rollback."""

import json
import sys
from typing import Annotated, Any

import typer

from .app import commands
from .common import Settings, command, emit_json, emit_result
from .completion import version_completer
from .options import (
    DryRunOption,
    FlowArgument,
    NotesOption,
    QuietOption,
    RowVersionOption,
    SigningKeyOption,
    parse_version,
    signing_key,
)
from .output import print_record


def _report_dry_run(settings: Settings, release: Any, quiet: bool, **extra: Any) -> None:
    """Print the version a publish or rollback would write and the diff from
    the active config to it; nothing was written."""
    from .. import diff, diff_text

    snapshot, head, previous = release.snapshot, release.head, release.previous_version
    changes = diff.diff_configs(release.previous_config, snapshot["configSnapshot"])
    old_label, new_label = f"v{previous}" if previous else "empty", f"v{snapshot['version']}"
    if settings.json:
        emit_json({"dryRun": True, "version": snapshot["version"], **extra,
                   **diff.to_json(old_label, new_label, changes)})
    elif quiet:
        print(snapshot["version"])
    else:
        from .. import render

        would = (f"make {head['key']} {new_label} active again" if release.swapped else
                 f"write {head['key']} {new_label} ({snapshot['notes'] or snapshot['source']['action']})")
        render.message(f"Dry run: would {would}; nothing written.", no_color=settings.no_color)
        render.message(f"Changes from {old_label}:", no_color=settings.no_color)
        render.diff_lines(diff_text.text_lines(changes), no_color=settings.no_color)


@command(commands, "publish")
def publish(
    settings: Settings,
    flow: FlowArgument,
    notes: NotesOption = "",
    row_version: RowVersionOption = None,
    dry_run: DryRunOption = False,
    key: SigningKeyOption = None,
    quiet: QuietOption = False,
) -> None:
    """Snapshot the draft as the next version and make it active.

    Example: flowctl publish credit-card-nba -m "new scorecard"
    """
    signer = signing_key(key)
    release = settings.write(lambda flows: flows.publish(flow, notes=notes, row_version=row_version,
                                                         dry_run=dry_run, signing_key=signer), dry_run=dry_run)
    if dry_run:
        _report_dry_run(settings, release, quiet)
        return
    head, version = release.head, release.snapshot["version"]
    emit_result(settings, head, quiet=quiet, essential=version,
                message=f"Published {head['key']} v{version} (active; rowVersion {head['rowVersion']})")


@command(commands, "versions")
def versions(
    settings: Settings,
    flow: FlowArgument,
    version: Annotated[str | None, typer.Option("--version", metavar="N", show_default=False,
                                                autocompletion=version_completer("active", "latest"),
                                                help="Show this version's full snapshot instead.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", show_default=False,
                                              help="Only the newest N versions (still oldest first).")] = None,
) -> None:
    """List the flow's published versions, oldest first, the active one marked.

    Example: flowctl versions credit-card-nba --limit 20
    """
    store = settings.open_store()
    if version is None and limit is not None:
        head, lines = settings.flows().newest_versions_lines(flow, limit)
        _print_versions(settings, head, lines)
        return
    if version is not None:
        which = parse_version(version, words=("active", "latest"))
        print_record(settings, store.get(flow).snapshot(which), None, kind="snapshot")
        return
    found = store.get(flow)
    if settings.json and not sys.stdout.isatty():
        # One line as every piped --json, spliced from the index's own lines.
        out = sys.stdout.buffer  # in three writes: 10,000 versions are never copied into one more buffer
        out.write(b'{"flowId": ' + json.dumps(found.id).encode() + b', "versions": [')
        out.write(found.versions_items())
        out.write(b"]}\n")
        return
    entries = found.versions()
    if settings.json:
        emit_json({"flowId": found.id, "versions": entries})
    else:
        from .. import render

        render.versions(found.head, entries, no_color=settings.no_color)


def _print_versions(settings: Settings, head: Any, lines: list[bytes]) -> None:
    """`versions` output from its entries as compact JSON lines."""
    if settings.json and not sys.stdout.isatty():
        sys.stdout.buffer.write(b'{"flowId": ' + json.dumps(head["id"]).encode() + b', "versions": ['
                                + b", ".join(lines) + b"]}\n")
        return
    entries = [json.loads(line) for line in lines]
    if settings.json:
        emit_json({"flowId": head["id"], "versions": entries})
    else:
        from .. import render

        render.versions(head, entries, no_color=settings.no_color)


@command(commands, "rollback")
def rollback(
    settings: Settings,
    flow: FlowArgument,
    version: Annotated[str | None, typer.Option("--version", metavar="N", show_default=False,
                                                   autocompletion=version_completer(),
                                                   help="The version to restore (default: the one "
                                                        "active before the current one).")] = None,
    notes: NotesOption = "",
    expected_current_version: Annotated[str | None, typer.Option(
        "--expected-current-version", metavar="N", show_default=False,
        help="Fail with exit 4 unless vN is the active version (the workflow API's expectedCurrentVersion).")]
        = None,
    row_version: RowVersionOption = None,
    dry_run: DryRunOption = False,
    key: SigningKeyOption = None,
    quiet: QuietOption = False,
) -> None:
    """Go back to an earlier version; history is kept.

    A decision flow or workflow: from active v5, `--version 3` writes v6 with
    v3's config, notes "Rollback to v3: ...", and resets the draft to it. A
    policy: `--version 3` makes v3 the active version again (no new version).

    Example: flowctl rollback credit-card-nba --version 3 --notes "v4 mis-scored"
    """
    # With no words allowed, parse_version gives a number or exits 2.
    target = int(parse_version(version)) if version is not None else None
    expected = (int(parse_version(expected_current_version, label="--expected-current-version"))
                if expected_current_version is not None else None)
    signer = signing_key(key)
    release = settings.write(lambda flows: flows.rollback(
        flow, version=target, notes=notes, expected_current_version=expected,
        row_version=row_version, dry_run=dry_run, signing_key=signer,
    ), dry_run=dry_run)
    head, current, previous = release.head, release.snapshot["version"], release.previous_version
    restored = current if release.swapped else release.snapshot["source"]["restoredVersion"]
    if dry_run:
        _report_dry_run(settings, release, quiet, restoredVersion=restored)
        return
    if release.swapped:  # a policy: the target is active again, no version written
        message = (f"Rolled back policy {head['key']} to v{restored}: v{restored} is active again "
                   f"(was v{previous}); no version written")
    else:
        message = (f"Rolled back {head['key']} to v{restored}: wrote v{current} with v{restored}'s config "
                   f"(was v{previous}; active now v{current})")
    emit_result(
        settings,
        {"success": True, "previousVersion": previous, "currentVersion": current,
         "restoredVersion": restored, "flow": head},
        quiet=quiet, essential=current, message=message,
    )

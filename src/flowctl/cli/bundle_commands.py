"""Moving a flow between stores or tenants: export, import."""

import sys
from typing import Annotated

import typer

from .app import commands
from .common import Settings, command, emit_json, emit_result
from .options import FlowArgument, QuietOption, ShowFormat


@command(commands, "export")
def export(
    settings: Settings,
    flow: FlowArgument,
    output_format: Annotated[ShowFormat, typer.Option("--format", help="Write the bundle as JSON or TOML.")]
    = ShowFormat.json,
) -> None:
    """Write the flow with its whole history (head, every version, audit log) as one bundle.

    The bundle goes to stdout; `flowctl import` reads it into another store or tenant.

    Example: flowctl export credit-card-nba > credit-card-nba.bundle.json
    """
    document = settings.open_store().export(flow)
    if settings.json or output_format == ShowFormat.json:
        emit_json(document)
    else:
        from .. import bundle

        sys.stdout.write(bundle.to_toml(document))


@command(commands, "import")
def import_(
    settings: Settings,
    file: Annotated[str, typer.Argument(metavar="FILE|-", show_default=False,
                                        help="A bundle from `flowctl export`: .json, .toml, or - for JSON on stdin.")],
    key: Annotated[str | None, typer.Option("--key", show_default="the bundle's",
                                               help="Import under this key.")] = None,
    flow_id: Annotated[str | None, typer.Option("--id", show_default="the bundle's",
                                                   help="Import under this id (when the bundle's is taken).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Create a flow, history and all, from a bundle, in the current --tenant.

    Every snapshot's checksum and the numbering 1..N are checked first (exit 8
    when they fail); an existing key or id exits 4.

    Example: flowctl import credit-card-nba.bundle.json --tenant staging --key credit-card-nba-copy
    """
    from .. import bundle
    from ..jsonio import read_document

    document, label = read_document(file, max_bytes=bundle.MAX_BUNDLE_BYTES, what="a bundle")
    head = settings.write(lambda flows: bundle.import_flow(flows, document, label, key=key, flow_id=flow_id))
    active = f"v{head['activeVersion']}" if head["activeVersion"] else "none"
    emit_result(settings, head, quiet=quiet, essential=head["key"],
                message=f"Imported flow {head['key']} ({head['id']}) into tenant {head['tenantId']}: "
                        f"{head['latestVersion']} versions, active {active}, rowVersion {head['rowVersion']}")

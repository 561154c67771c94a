"""The Typer app and its callback (the global options before the command)."""

from typing import Annotated, Optional

import typer

from .. import __version__
from .common import (
    ActorOption,
    FlowctlGroup,
    JsonOption,
    LockTimeoutOption,
    Settings,
    StoreOption,
    TenantOption,
)

app = typer.Typer(
    name="flowctl",
    cls=FlowctlGroup,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Manage versioned decision flows in a file-backed store whose directory tree "
        "is the immutable history.\n\n"
        "Example: flowctl rollback credit-card-nba --version 3 --notes \"v4 mis-scored\""
    ),
)


def _print_version(value: bool) -> None:
    if value:
        print(f"flowctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    store: StoreOption = None,
    tenant: TenantOption = None,
    actor: ActorOption = None,
    json: JsonOption = False,
    lock_timeout: LockTimeoutOption = None,
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print flowctl's version and exit."),
    ] = None,
) -> None:
    """Manage versioned decision flows in a file-backed, git-friendly store."""
    ctx.obj = Settings(store=store, tenant=tenant, actor=actor, json=json, lock_timeout=lock_timeout)

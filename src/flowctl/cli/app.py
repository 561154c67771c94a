"""The Typer app, its callback (the global options before the command), and
the group that builds only the command being run.

Every TAB of shell completion and every call from a script pays start-up,
so a command's module is imported, and its click command built, only when
that command runs (click's LazyGroup pattern); `--help` builds them all.
"""

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import BadInput, FlowctlError, IncompleteWrite, Notice, StorageError, io_reason
from .common import (
    ActorOption,
    JsonOption,
    LockTimeoutOption,
    NoColorOption,
    Settings,
    StoreOption,
    TenantOption,
    report_error,
    report_warning,
    wants_json,
)

# Which module defines each command, in the order `--help` lists them.
COMMAND_MODULES = {
    "init": "flow_commands",
    "create": "flow_commands",
    "update": "flow_commands",
    "list": "flow_commands",
    "delete": "flow_commands",
    "show": "flow_commands",
    "publish": "release_commands",
    "versions": "release_commands",
    "rollback": "release_commands",
    "diff": "inspect_commands",
    "verify": "inspect_commands",
    "history": "history_commands",
    "edit": "edit_commands",
    "export": "bundle_commands",
    "import": "bundle_commands",
    "schema": "kind_commands",
    "sync": "git_commands",
    "rebase": "git_commands",
}

# Commands register here (see common.command); the group picks them up lazily.
commands = typer.Typer()


class FlowctlGroup(TyperGroup):
    """The app's click group: builds commands on demand and turns every
    failure into docs/contract.md §6's one line and exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(f"{__package__}.{COMMAND_MODULES[name]}")
            info = next(info for info in commands.registered_commands if info.name == name)
            self.commands[name] = typer.main.get_command_from_info(
                info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
            )
        return self.commands.get(name)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        code = self._run(argv, prog_name or "flowctl", complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, argv: list[str], prog_name: str, complete_var: str | None, **extra: Any) -> int:
        import warnings

        as_json = wants_json(argv)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IncompleteWrite)
            warnings.simplefilter("always", Notice)
            code = self._invoke(argv, prog_name, complete_var, as_json, **extra)
        for warning in caught:
            if issubclass(warning.category, IncompleteWrite | Notice):
                report_warning(str(warning.message), as_json, notice=issubclass(warning.category, Notice))
        return code

    def _invoke(self, argv: list[str], prog_name: str, complete_var: str | None, as_json: bool,
                **extra: Any) -> int:
        from typer._click import exceptions as click_exceptions

        try:
            result = super().main(args=argv, prog_name=prog_name, complete_var=complete_var,
                                  standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except click_exceptions.NoArgsIsHelpError as exc:
            sys.stdout.write(exc.format_message() + "\n")
            return 0
        except click_exceptions.ClickException as exc:
            message = exc.format_message()
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                message += f" (see `{ctx.command_path} --help`)"
            report_error(BadInput(message), as_json)
            return exc.exit_code
        except typer.Abort:
            report_error(BadInput("aborted: nothing changed"), as_json)
            return 2
        except FlowctlError as exc:
            report_error(exc, as_json)
            return exc.exit_code
        except BrokenPipeError:
            # `flowctl list | head`: the reader left; that is not our error.
            sys.stdout = open(os.devnull, "w")
            return 0
        except OSError as exc:
            # The core turns write failures into StorageError itself; this is any
            # other refusal of the file system (a lock file on a read-only disk, say).
            if os.environ.get("FLOWCTL_DEBUG") == "1":
                raise
            reason, advice = io_reason(exc)
            where = f" ({exc.filename})" if exc.filename else ""
            error = StorageError(f"{reason}{where}; {advice}")
            report_error(error, as_json)
            return error.exit_code
        except Exception as exc:
            if os.environ.get("FLOWCTL_DEBUG") == "1":
                raise
            report_error(FlowctlError(
                f"internal error: {type(exc).__name__}: {exc}; rerun with FLOWCTL_DEBUG=1 "
                "for a traceback and report it"), as_json)
            return 70


app = typer.Typer(
    name="flowctl",
    cls=FlowctlGroup,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=(
        "Manage versioned decision flows, policies and workflows in a file-backed store whose directory tree "
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
    no_color: NoColorOption = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print flowctl's version and exit."),
    ] = None,
) -> None:
    """Manage versioned decision flows, policies and workflows in a file-backed, git-friendly store."""
    ctx.obj = Settings(store=store, tenant=tenant, actor=actor, json=json, lock_timeout=lock_timeout,
                       no_color=no_color)

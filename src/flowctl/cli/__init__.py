"""The command-line layer: a thin Typer app over the core in `flowctl.flows`.

Each command parses its options, makes one call into the core and renders
the result; errors are turned into exit codes in one place (`common`).
"""

from . import flow_commands, inspect_commands, release_commands  # noqa: F401  (they register their commands)
from .app import app


def main() -> None:
    """The `flowctl` console script."""
    app(prog_name="flowctl")

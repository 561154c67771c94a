"""The command-line layer: a thin Typer app over the core in `flowctl.flows`.

Each command parses its options, makes one call into the core and renders
the result; errors are turned into exit codes in one place (`app`).
Command modules are imported only when their command runs (`app.FlowctlGroup`).
"""

from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """The `flowctl` console script."""
    app(prog_name="flowctl")

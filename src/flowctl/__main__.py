"""`python -m flowctl` runs the CLI."""

from .cli import main

main()

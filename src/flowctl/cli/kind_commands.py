"""What the kinds of flow are: schema."""

import sys
from typing import Annotated

import typer

from .app import commands
from .common import Settings, command
from .options import KindName


@command(commands, "schema", store=False)
def schema(
    settings: Settings,
    kind: Annotated[KindName, typer.Argument(metavar="KIND", help="decision-flow, policy or workflow.")],
) -> None:
    """Print the JSON Schema of a kind's config, for editors to validate as you type.

    Save it beside your configs and point "$schema" (or VS Code's
    json.schemas) at it. Needs no store.

    Example: flowctl schema workflow > workflow.schema.json
    """
    from .. import jsonio, kinds

    sys.stdout.write(jsonio.dumps(kinds.rules(kind.value).config_schema()))

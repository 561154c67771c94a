"""Printing one record — a head, a snapshot or a config — the way `show` and
`versions --version` both do: JSON, TOML, or rich tables for a person."""

import sys
from collections.abc import Mapping
from typing import Any

from .common import Settings, emit_json
from .options import ShowFormat


def print_record(settings: Settings, record: Mapping[str, Any], output_format: ShowFormat | None, kind: str) -> None:
    """Print a head, snapshot or config as JSON, TOML, or for a person."""
    if settings.json or output_format == ShowFormat.json:
        emit_json(record)
    elif output_format == ShowFormat.toml:
        from ..tomlio import dumps_toml

        sys.stdout.write(dumps_toml(dict(record)))
    else:
        from .. import render

        if kind == "head":
            render.head(record, no_color=settings.no_color)  # type: ignore[arg-type]
        elif kind == "snapshot":
            render.snapshot(record, no_color=settings.no_color)  # type: ignore[arg-type]
        else:
            emit_json(record)

"""TOML output with tomli-w, and the one thing TOML cannot say: null.

A null field of a record (activeVersion before the first publish, say) is
left out, and reading the TOML back treats a missing field as null. A null
inside a config has no TOML form and would silently change the config, so
it is refused with its path; use JSON for such configs.
"""

from __future__ import annotations

from typing import Any

from .errors import BadInput


def _find_null(value: Any, path: str) -> str | None:
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if item is None:
            return where
        if isinstance(item, dict):
            stack.extend((child, f"{where}.{key}") for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(item))))
    return None


def dumps_toml(record: dict[str, Any]) -> str:
    """`record` as TOML: top-level nulls left out, nested nulls refused (exit 2)."""
    import tomli_w

    present = {key: value for key, value in record.items() if value is not None}
    for key, value in present.items():
        where = _find_null(value, key)
        if where is not None:
            raise BadInput(f"{where} is null, which TOML cannot represent: use --format json for this record")
    return tomli_w.dumps(present)

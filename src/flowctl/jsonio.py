"""How flowctl writes and reads JSON/TOML, in one place.

Stored files are UTF-8, 2-space indent, one trailing newline, keys in the
order given, so writing the same content twice gives the same bytes (SPEC §1).
Input documents are bounded in size and depth so hostile files cannot
exhaust memory or the stack.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .errors import BadInput

MAX_INPUT_BYTES = 16 * 1024 * 1024  # documented in the README: larger configs exit 2
MAX_DEPTH = 64  # nesting levels of objects/arrays in a config


def dumps(data: Any) -> str:
    """Serialise for a stored file or stdout: pretty, stable, newline-terminated."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def encode(data: Any) -> bytes:
    """The exact bytes of a stored JSON file."""
    return dumps(data).encode("utf-8")


def compact_line(data: Any) -> bytes:
    """One JSON Lines record (audit log, version index), newline included."""
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def config_sha256(config: Any) -> str:
    """Hex SHA-256 of a config in compact canonical form (SPEC §3)."""
    import hashlib  # only writes and verify hash; reads stay light

    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def same_bytes(a: Any, b: Any) -> bool:
    """Equal as stored: key order counts, and 1, 1.0 and true differ."""
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def _depth_problem(value: Any) -> bool:
    """Tell whether `value` nests deeper than MAX_DEPTH (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: stored, they would make flow.json unreadable elsewhere.
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is not a finite number, and JSON has no other kind")
    return value


def parse_document(text: str, source: str, toml: bool = False) -> Any:
    """Parse a JSON (or TOML) document named `source`; raise BadInput on any flaw."""
    try:
        if toml:
            import tomllib

            data: Any = tomllib.loads(text, parse_float=_finite_float)
        else:
            data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise BadInput(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = "TOML" if toml else "JSON"
        raise BadInput(f"{source}: not valid {kind}: {exc}") from None
    if _depth_problem(data):
        raise BadInput(f"{source}: nested more than {MAX_DEPTH} levels deep")
    return data


def read_document(spec: str, max_bytes: int = MAX_INPUT_BYTES, what: str = "a config") -> tuple[Any, str]:
    """Read a config (or, with a larger `max_bytes`, a bundle: `what`) given as
    a path (`.toml` → TOML, else JSON) or `-` (stdin JSON).

    Returns the parsed value and a label for messages.
    """
    if spec == "-":
        raw = sys.stdin.buffer.read(max_bytes + 1)
        label = "stdin"
    else:
        label = spec
        try:
            with open(spec, "rb") as fh:
                raw = fh.read(max_bytes + 1)
        except FileNotFoundError:
            raise BadInput(f"{spec}: no such file: check the path") from None
        except IsADirectoryError:
            raise BadInput(f"{spec}: is a directory, not {what} file") from None
        except OSError as exc:
            raise BadInput(f"{spec}: cannot read: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise BadInput(f"{label}: larger than the {max_bytes // (1024 * 1024)} MiB limit for {what}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{label}: not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise BadInput(f"{label}: contains a NUL byte; {what} is text")
    return parse_document(text, label, toml=Path(spec).suffix.lower() == ".toml"), label

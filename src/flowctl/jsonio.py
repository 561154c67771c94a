"""How flowctl writes and reads JSON/TOML, in one place.

Stored files are UTF-8, 2-space indent, one trailing newline, keys in the
order given, so writing the same content twice gives the same bytes (docs/contract.md §1).
Input documents (configs, stdin, --set values, @FILE, bundles) are bounded
in size and depth so hostile files cannot exhaust memory or the stack, and
must be storable: no duplicate keys, no lone surrogates, finite numbers only.
Stdlib only and cheap: `show --json` and `versions --json` import this.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from .errors import BadInput

MAX_INPUT_BYTES = 16 * 1024 * 1024  # documented in the README: larger configs exit 2
MAX_DEPTH = 64  # nesting levels of objects/arrays in a config
_MAX_SHOWN = 60  # characters of a user's value echoed in a message

_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_TEXT = "a lone surrogate: JSON can spell that escape, but it is not text, and UTF-8 cannot store it"
# Plain-word reasons for json's messages, which read like a parser's internals.
_JSON_REASONS = {
    "Expecting value": "expected a value",
    "Expecting ',' delimiter": "expected ',' or a closing bracket",
    "Expecting ':' delimiter": "expected ':' after a key",
    "Expecting property name enclosed in double quotes": "expected a key in double quotes",
    "Unterminated string starting at": "a string that starts here is not closed",
    "Invalid control character at": "a control character inside a string: write it as \\n, \\t or \\u00XX",
    "Invalid \\escape": "an unknown backslash escape in a string",
    "Invalid \\uXXXX escape": "a \\u escape needs 4 hex digits",
    "Extra data": "more text after the JSON value",
    "Illegal trailing comma before end of object": "a comma before the closing '}'",
    "Illegal trailing comma before end of array": "a comma before the closing ']'",
}


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
    """Hex SHA-256 of a config in compact canonical form (docs/contract.md §3)."""
    import hashlib  # only writes and verify hash; reads stay light

    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def same_bytes(a: Any, b: Any) -> bool:
    """Equal as stored: key order counts, and 1, 1.0 and true differ."""
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def shown(text: str, limit: int = _MAX_SHOWN) -> str:
    """A user's text as a message shows it: quoted, escaped (repr), cut when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in `text` as its \\u escape, or None when `text` is text.

    One comes from a JSON escape such as \\ud800, or from argv bytes that are
    not UTF-8; UTF-8 cannot store it.
    """
    found = _SURROGATE.search(text)
    return f"\\u{ord(found.group()):04x}" if found else None


# -- checking a parsed document ---------------------------------------------------


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object that had a key twice, marked for `_flaw` to report with its path
    (the hook that builds objects cannot know where they are)."""

    duplicate: str = ""


def _objects(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object_pairs_hook: a dict, or a _Duplicated when a key repeats
    (json would silently keep the last value)."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Duplicated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _flaw(data: Any) -> str | None:
    """Why `data` cannot be taken (too deep, or not storable), or None.

    Run on every input, bundles of 512 MiB included, so it is one iterative
    pass that stacks only containers, each with a breadcrumb (parent's
    breadcrumb, key) from which the path is made only when needed; ASCII
    strings, the usual case, skip the surrogate search.
    """
    stack: list[tuple[Any, int, Any]] = [([data], 0, None)]  # the list around the root has no path
    while stack:
        item, depth, crumb = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        if type(item) is dict:
            keys = "".join(item)  # one C call for all keys
            if not keys.isascii() and _SURROGATE.search(keys):
                bad = next(key for key in item if _SURROGATE.search(key))
                return f"a key at {_pointer(crumb)} holds {lone_surrogate(bad)}, {NOT_TEXT}"
            pairs: Any = item.items()
        else:
            pairs = enumerate(item)
        for key, child in pairs:
            kind = type(child)
            if kind is str:
                if not child.isascii() and _SURROGATE.search(child):
                    return f"the string at {_pointer((crumb, key))} holds {lone_surrogate(child)}, {NOT_TEXT}"
            elif kind is dict or kind is list:
                stack.append((child, depth + 1, (crumb, key)))
            elif kind is float:
                if not math.isfinite(child):
                    return _number_flaw(child, _pointer((crumb, key)))
            elif kind is not int and kind is not bool and child is not None:
                return _other_flaw(child, _pointer((crumb, key)))
    return None


def _pointer(crumb: Any) -> str:
    """A breadcrumb as a JSON Pointer, the form --set takes; the root in words."""
    parts = []
    while crumb is not None:
        crumb, key = crumb
        parts.append(str(key).replace("~", "~0").replace("/", "~1"))
    parts.pop()  # the index of the root in the list around it
    return "".join(f"/{part}" for part in reversed(parts)) or "the top level"


def _number_flaw(number: float, where: str) -> str:
    if math.isnan(number):
        return f"the number at {where} is NaN: JSON numbers must be finite"
    return f"the number at {where} is infinite (Infinity, or too large, like 1e400): JSON numbers must be finite"


def _other_flaw(value: Any, where: str) -> str:
    """A value json or tomllib gives that is neither JSON's nor plain."""
    if isinstance(value, _Duplicated):
        return f"duplicate key {json.dumps(value.duplicate, ensure_ascii=False)} at {where}"
    return f"the value at {where} is a TOML date or time ({value}), which JSON cannot hold: write it as a string"


# -- parsing ----------------------------------------------------------------------


def _json_reason(exc: json.JSONDecodeError, text: str) -> str:
    """What json found wrong, in plain words, with where."""
    reason = _JSON_REASONS.get(exc.msg, exc.msg[:1].lower() + exc.msg[1:])
    if not text.strip():
        return "it is empty"
    if exc.pos >= len(text.rstrip()):
        return f"it ends too early: {reason}"
    where = f"line {exc.lineno}, column {exc.colno}" if "\n" in text.rstrip() else f"column {exc.colno}"
    return f"{reason} (at {where})"


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_objects)
    except RecursionError:
        raise BadInput(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source}: not valid JSON: {_json_reason(exc, text)}") from None
    except ValueError as exc:  # int() refusing a huge literal: the only other ValueError
        raise BadInput(f"{source}: {_number_reason(exc)}") from None


def _parse_toml(text: str, source: str) -> Any:
    import tomllib

    from .tomlio import toml_reason, toml_too_deep

    # tomllib's work grows with the square of a dotted key's length (100,000
    # parts took 24 GB): refuse what would be too deep before it starts.
    if toml_too_deep(text, MAX_DEPTH):
        raise BadInput(f"{source}: nested more than {MAX_DEPTH} levels deep")
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise BadInput(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source}: not valid TOML: {toml_reason(str(exc))}") from None
    except ValueError as exc:  # int() refusing a huge literal
        raise BadInput(f"{source}: {_number_reason(exc)}") from None


def _number_reason(exc: ValueError) -> str:
    if "integer string conversion" in str(exc):
        digits = sys.get_int_max_str_digits()
        return f"a number has more than {digits} digits: no config needs one that long, and it cannot be stored"
    return "not a number flowctl can read"


def parse_document(text: str, source: str, toml: bool = False) -> Any:
    """Parse a JSON (or TOML) document named `source`; raise BadInput on any flaw.

    A leading byte-order mark is dropped: Windows editors write one, and it
    is not part of the document.
    """
    text = text.removeprefix("\ufeff")
    data = _parse_toml(text, source) if toml else _parse_json(text, source)
    problem = _flaw(data)
    if problem:
        raise BadInput(f"{source}: {problem}")
    return data


def read_document(spec: str, max_bytes: int = MAX_INPUT_BYTES, what: str = "a config") -> tuple[Any, str]:
    """Read a config (or, with a larger `max_bytes`, a bundle: `what`) given as
    a path (`.toml` → TOML, else JSON) or `-` (stdin JSON).

    Returns the parsed value and a label for messages.
    """
    text, label = read_text(spec, max_bytes, what)
    return parse_document(text, label, toml=Path(spec).suffix.lower() == ".toml"), label


def read_text(spec: str, max_bytes: int = MAX_INPUT_BYTES, what: str = "a config") -> tuple[str, str]:
    """The UTF-8 text of the file `spec` (or stdin for `-`), read no further than
    `max_bytes`, and a label for messages; BadInput for what text cannot be."""
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
    return text.removeprefix("\ufeff"), label

"""TOML both ways: output with tomli-w, and guarding input before tomllib.

Output: the one thing TOML cannot say is null. A null field of a record
(activeVersion before the first publish, say) is left out, and reading the
TOML back treats a missing field as null. A null inside a config has no
TOML form and would silently change the config, so it is refused with its
path; use JSON for such configs.

Input: tomllib's work grows with the square of a dotted key's length (a
200 KB file of one 100,000-part key took 24 GB), so `toml_too_deep` scans
the text first, in linear time, for keys, table headers and brackets that
nest deeper than the config limit, and `toml_reason` says tomllib's
complaints without its Python tuples.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import BadInput

# What the scan stops at; everything else (bare keys, numbers, dates, spaces) is skipped in C.
_INTERESTING = re.compile(r"[\"'#\[\]{}=,.\n]")
# Strings, so their dots and brackets are not read as structure. On a string that is not
# closed the scan stops, and tomllib reports it: every scan then advances, so it is linear.
_STRINGS = (  # possessive (*+, ++): sre then keeps no backtracking state per character
    ('"""', re.compile(r'"""(?:[^"\\]++|\\.|"(?!""))*+"""(?:""?)?', re.S)),
    ("'''", re.compile(r"'''(?:[^']++|'(?!''))*+'''(?:''?)?")),
    ('"', re.compile(r'"(?:[^"\\\n]++|\\.)*+"')),
    ("'", re.compile(r"'[^'\n]*+'")),
)
_TOML_POSITION = re.compile(r"(.*?)( \(at (?:line \d+, column \d+|end of document)\))?\Z", re.S)
# tomllib's messages that show a key as a Python tuple, in plain words.
_TOML_REASONS = (
    ("Cannot declare", "a table is declared twice"),
    ("Cannot overwrite a value", "a key is given a value twice"),
    ("Cannot mutate immutable namespace", "an inline table or array cannot be added to later"),
    ("Cannot redefine namespace", "a dotted key redefines a table"),
)


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
            raise BadInput(f"{where} is null, which TOML cannot represent", hint="use --format json for this record")
    return tomli_w.dumps(present)


def toml_reason(message: str) -> str:
    """tomllib's error message in plain words, its position kept."""
    found = _TOML_POSITION.match(message)
    assert found is not None  # the pattern matches any text
    reason, position = found.group(1), found.group(2) or ""
    for start, plain in _TOML_REASONS:
        if reason.startswith(start):
            reason = plain
            break
    return reason[:1].lower() + reason[1:] + position


def _string_end(text: str, start: int) -> int:
    """Where the string opening at `start` ends, or -1 if it is not closed."""
    for opening, pattern in _STRINGS:
        if text.startswith(opening, start):
            found = pattern.match(text, start)
            return found.end() if found else -1
    return -1  # not reached: the scan calls this only at a quote


class _DepthScan:
    """Nesting depth as the document would have it, counted from the text.

    The root table is level 1; each part of a table header adds one, each
    part of a key but the last adds one, and each array or inline table
    opened as a value adds one. That never exceeds the parsed depth, so a
    document the scan refuses is one the parsed check would refuse too.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.table = 1  # depth of the table top-level keys go into
        self.open: list[tuple[str, int]] = []  # the '[' and '{' open around here, with their depth
        self.mode = "key"  # "key", "header" or "value"
        self.parts = 1  # parts of the key (or header) being read
        self.key_depth = 1  # depth the current key's value sits at

    def base(self) -> int:
        """Depth of the table the key being read goes into."""
        return self.open[-1][1] if self.open else self.table

    def too_deep(self, char: str) -> bool:
        """Take one structural character; True once past the limit."""
        if char == ".":
            if self.mode == "value":
                return False  # a float or a time
            self.parts += 1
            if self.mode == "header":
                return 1 + self.parts > self.limit
            return self.base() + self.parts - 1 > self.limit
        if char == "=" and self.mode == "key":
            self.mode, self.key_depth = "value", self.base() + self.parts - 1
        elif char == "\n" and not self.open:
            self.mode, self.parts = "key", 1
        elif char == "[" and self.mode == "key" and not self.open:
            self.mode, self.parts = "header", 1
        elif char == "]" and self.mode == "header":
            self.mode, self.table = "key", 1 + self.parts
            return self.table > self.limit
        elif char in "[{" and self.mode == "value":
            depth = self.open[-1][1] + 1 if self.open and self.open[-1][0] == "[" else self.key_depth + 1
            self.open.append((char, depth))
            if char == "{":
                self.mode, self.parts = "key", 1
            return depth > self.limit
        elif char in "]}" and self.open:
            self.open.pop()
            self.mode = "value"
        elif char == "," and self.open:
            self.mode, self.parts = ("key", 1) if self.open[-1][0] == "{" else ("value", self.parts)
        return False


def toml_too_deep(text: str, limit: int) -> bool:
    """Whether `text` nests deeper than `limit` levels (see `_DepthScan`).

    Linear in the text; a document that is not valid TOML may pass, for
    tomllib to report what is wrong with it.
    """
    scan = _DepthScan(limit)
    pos = 0
    while True:
        found = _INTERESTING.search(text, pos)
        if found is None:
            return False
        char, pos = found.group(), found.end()
        if char in "\"'":
            pos = _string_end(text, found.start())
            if pos < 0:
                return False
        elif char == "#":
            pos = text.find("\n", pos)
            if pos < 0:
                return False
        elif scan.too_deep(char):
            return True

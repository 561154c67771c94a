"""`update --set/--unset`: edit a draft at the JSON Pointers `diff` prints.

Paths are RFC 6901 JSON Pointers read the way `diff --format json` writes
them, so a script can feed one command's output to the other:

* below `/nodes`, a segment is a node id, not an index
  (`/nodes/score-1/config/method`): ids, unlike positions, do not shift
  when another edit of the same script adds or removes a node;
* a node whose settings are spelled `data` is reached through `config`
  too, as `diff` reads it;
* below `/edges`, an edge may be named `source->target`, as `diff` names it;
* `-` appends to a list (as in RFC 6902); other list segments are indexes.

Edits are strict, like RFC 6902's `replace` and `remove`: a path whose
parent does not exist is an error, not created on the way, so a typo is
reported instead of written. Nothing here prints or exits; every failure is
BadInput (exit 2) naming the pointer and what is there instead.

`edit_at` is flowctl's one JSON-Pointer edit engine: besides `--set` and
`--unset` it has RFC 6902's `add` (`insert`) and `replace`, which the diff
replay in tests/replay.py uses to prove every diff complete.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

from . import jsonio
from .errors import BadInput
from .jsonio import NOT_TEXT, lone_surrogate, shown
from .jsonpointer import edge_segment, escape, split

# What an edit does at its pointer: `set`/`unset` are --set/--unset; `insert`
# and `replace` are RFC 6902's `add` and `replace`, for the diff replay.
Op = Literal["set", "unset", "insert", "replace"]

_APPEND = "-"
_MAX_LISTED = 20  # node ids or keys named in one message
_MAX_PLAIN = 200  # characters of a pointer shown without quotes
_MAX_SUGGESTED = 200  # longest bare word echoed in a suggestion to quote it
_MAX_INDEX_DIGITS = 18
# A value the user most likely meant as a string: it starts like a word and has no JSON
# punctuation; advice to quote anything else ([1, or "x or 1e) would be wrong.
_BARE_WORD = re.compile(r"\s*[^\W\d][^\[\]{}\"\\\x00-\x1f\x7f]*\Z")
_JSON_WORDS = {"true": "true", "false": "false", "null": "null", "none": "null", "nil": "null"}


class Edit(NamedTuple):
    """One `--set POINTER=JSON` (value given) or `--unset POINTER`."""

    pointer: str
    value: Any = None
    unset: bool = False

    @property
    def flag(self) -> str:
        """The option the edit came from, for messages."""
        return "--unset" if self.unset else "--set"


def parse_set(text: str) -> Edit:
    """`POINTER=JSON` as an Edit; the value is JSON (quote strings)."""
    pointer, equals, raw = text.partition("=")
    if not equals:
        raise BadInput(f"--set {shown(text)} needs POINTER=JSON, e.g. --set '/nodes/rank/config/topN=3'")
    _segments(pointer, "--set")
    label = f"--set {_display(pointer)}"
    surrogate = lone_surrogate(pointer)
    if surrogate:  # it would become a key of the stored draft
        raise BadInput(f"{label}: the path holds {surrogate}, {NOT_TEXT}")
    if not raw.strip():
        raise BadInput(f"{label}: no value after '=': give JSON, e.g. {_suggest(pointer, '')} for an empty string")
    try:
        return Edit(pointer, jsonio.parse_document(raw, label))
    except BadInput:
        if not _BARE_WORD.match(raw):
            raise  # the parser's reason and position say what is wrong
        raise BadInput(f"{label}: not valid JSON: {_bare_word_advice(pointer, raw)}") from None


def _bare_word_advice(pointer: str, raw: str) -> str:
    """What to write instead of a bare word, which is no JSON value."""
    spelled = _JSON_WORDS.get(raw.strip().lower())
    if spelled and spelled != raw.strip():
        return f"JSON spells it {spelled}: --set {_suggest(pointer, spelled, quote=False)}"
    if len(raw) > _MAX_SUGGESTED:
        return f"{shown(raw)} is a bare word, and a string needs double quotes"
    return f"{shown(raw)} is a bare word; a string needs double quotes: --set {_suggest(pointer, raw)}"


def _suggest(pointer: str, value: str, *, quote: bool = True) -> str:
    """`POINTER=VALUE` (VALUE as a JSON string if `quote`), quoted for a POSIX shell."""
    import shlex

    return shlex.quote(f"{pointer}={json.dumps(value, ensure_ascii=False) if quote else value}")


def _display(text: str) -> str:
    """A pointer or key in a message: as is when plain, else quoted and escaped."""
    if text.isprintable() and len(text) <= _MAX_PLAIN and " " not in text:
        return text
    return shown(text)


def parse_unset(pointer: str) -> Edit:
    """`--unset POINTER` as an Edit."""
    if not _segments(pointer, "--unset"):
        raise BadInput("--unset needs a path inside the config: the draft itself cannot be removed")
    return Edit(pointer, unset=True)


def apply(config: Any, edits: Iterable[Edit]) -> Any:
    """A deep copy of `config` with `edits` applied, in order."""
    doc = copy.deepcopy(config)
    for edit in edits:
        doc = _apply_one(doc, edit)
    return doc


def _segments(pointer: str, flag: str) -> list[str]:
    try:
        return split(pointer)
    except ValueError:
        raise BadInput(
            f"{flag} {shown(pointer)}: a path must be a JSON Pointer starting with '/', "
            "e.g. /nodes/rank/config/topN"
        ) from None


def _apply_one(doc: Any, edit: Edit) -> Any:
    segments = _segments(edit.pointer, edit.flag)
    if not segments:
        return copy.deepcopy(edit.value)  # --set '=...' replaces the whole draft
    edit_at(doc, segments, "unset" if edit.unset else "set", edit.value, label=f"{edit.flag} {_display(edit.pointer)}")
    return doc


def edit_at(
    doc: Any,
    segments: list[str],
    op: Op,
    value: Any = None,
    *,
    label: str,
    keyed: bool = True,
    error: Callable[[str], Exception] = BadInput,
) -> None:
    """Edit `doc` in place at the pointer `segments` (unescaped, not empty).

    `op` is `set` (a key set, a list item replaced, `-` appended), `unset`
    (the key or item removed; it must be there), `insert` (as `set`, but a
    list index inserts before that item, the list's length included) or
    `replace` (as `set`, without `-`). Every segment but the last must exist.
    With `keyed`, segments are read as docs/contract.md §4.5 says: a node id
    below `/nodes`, `source->target` below `/edges`, a node's `config` as its
    `data`; without it every list segment is an index. A failure raises
    `error("LABEL: what is wrong")`; the value written is a deep copy.
    """
    # The root has no parent to edit in: callers replace the document.
    if not segments:
        raise ValueError("edit_at needs a path below the root")
    walk = _Walk(label, op, value, keyed=keyed, error=error)
    parent = doc
    for depth in range(len(segments) - 1):
        parent = walk.child(parent, segments, depth)
    walk.write(parent, segments)


class _Walk:
    """Resolves one edit's pointer, one segment at a time, for precise messages."""

    def __init__(self, label: str, op: Op, value: Any, *, keyed: bool, error: Callable[[str], Exception]) -> None:
        self.label, self.op, self.value = label, op, value
        self.keyed, self.error = keyed, error

    def fail(self, reason: str) -> Exception:
        return self.error(f"{self.label}: {reason}")

    def child(self, parent: Any, segments: list[str], depth: int) -> Any:
        """The value at `segments[depth]` below `parent`, which must exist."""
        where, segment = _prefix(segments, depth), segments[depth]
        if isinstance(parent, dict):
            key = self.dict_key(parent, segment, segments, depth)
            if key not in parent:
                raise self.fail(f"{where or 'the config'} has no {shown(segment)}{_listing('keys', list(parent))}")
            return parent[key]
        if isinstance(parent, list):
            return parent[self.list_positions(parent, segments, depth, for_write=False)[0]]
        raise self.fail(f"{where} is {_kind(parent)}, not an object or a list")

    def write(self, parent: Any, segments: list[str]) -> None:
        """Write (set, insert, replace) or remove the last segment's value in `parent`."""
        depth = len(segments) - 1
        segment = segments[depth]
        if isinstance(parent, dict):
            key = self.dict_key(parent, segment, segments, depth)
            if self.op != "unset":
                parent[key] = copy.deepcopy(self.value)  # a new key goes last; an old one keeps its place
            elif key in parent:
                del parent[key]
            else:
                where = _prefix(segments, depth) or "the config"
                raise self.fail(f"nothing to unset: {where} has no {shown(segment)}{_listing('keys', list(parent))}")
            return
        if not isinstance(parent, list):
            raise self.fail(f"{_prefix(segments, depth)} is {_kind(parent)}, not an object or a list")
        if segment == _APPEND and self.op in ("set", "insert"):
            parent.append(copy.deepcopy(self.value))
            return
        positions = self.list_positions(parent, segments, depth, for_write=True)
        if self.op == "unset":
            for position in reversed(positions):
                del parent[position]
        elif self.op == "insert":
            parent.insert(positions[0], copy.deepcopy(self.value))
        else:
            parent[positions[0]] = copy.deepcopy(self.value)

    def list_positions(self, items: list[Any], segments: list[str], depth: int, *, for_write: bool) -> list[int]:
        """Where `segments[depth]` points in a list: a node id, an edge pair, or an index."""
        segment, where = segments[depth], _prefix(segments, depth)
        if segment == _APPEND:
            if for_write:  # only unset and replace get here: set and insert append
                raise self.fail(f"'-' means append: there is nothing there to {self.op}")
            raise self.fail("'-' (append) can only be the last segment of a "
                            + ("--set path" if self.op in ("set", "unset") else "path"))
        if self.keyed and depth == 1 and segments[0] == "nodes":
            return [self.node_position(items, segment, last=depth == len(segments) - 1)]
        if self.keyed and depth == 1 and segments[0] == "edges" and "->" in segment:
            found = [i for i, edge in enumerate(items) if _edge_name(edge) == segment]
            if not found:
                names = [_edge_name(edge) for edge in items]
                raise self.fail(f"no edge {shown(segment)} in /edges{_listing('edges', names)}")
            return found  # edges are a set: unset removes every copy of the pair
        if not (segment.isascii() and segment.isdigit()):
            indexes = f"an index (0-{len(items) - 1}) or " if items else ""
            raise self.fail(f"{where} is a list: use {indexes}'-' to append, not {shown(segment)}")
        # No list is that long, and int() refuses more than 4300 digits: past
        # the end, for an insert too.
        index = int(segment) if len(segment.lstrip("0")) <= _MAX_INDEX_DIGITS else len(items) + 1
        # An insert may name the end of the list (RFC 6902 `add`); nothing else may.
        end = len(items) + 1 if for_write and self.op == "insert" else len(items)
        if index >= end:
            shown_index = index if len(segment) <= _MAX_INDEX_DIGITS else shown(segment)
            raise self.fail(f"{where} has {len(items)} items: index {shown_index} is out of range"
                            + ("; use '-' to append" if for_write and self.op in ("set", "insert") else ""))
        return [index]

    def node_position(self, nodes: list[Any], node_id: str, *, last: bool) -> int:
        found = [i for i, node in enumerate(nodes) if isinstance(node, dict) and node.get("id") == node_id]
        if len(found) > 1:
            raise self.fail(f"{len(found)} nodes have id {shown(node_id)}: give them unique ids with `flowctl edit`")
        if found:
            return found[0]
        ids = [node["id"] for node in nodes if isinstance(node, dict) and isinstance(node.get("id"), str)]
        hint = ""
        if last and self.op == "set":
            hint = f"; to add a node, append it: --set {_suggest('/nodes/-', _new_node(node_id), quote=False)}"
        raise self.fail(f"no node with id {shown(node_id)}{_listing('node ids', ids)}{hint}")

    def dict_key(self, parent: dict[str, Any], segment: str, segments: list[str], depth: int) -> str:
        """`config` of a node spelled with `data` is its `data`, as `diff` reads it."""
        in_node = self.keyed and depth == 2 and segments[0] == "nodes"
        if in_node and segment == "config" and "config" not in parent and "data" in parent:
            return "data"
        return segment


def _new_node(node_id: str) -> str:
    shown = node_id if len(node_id) <= _MAX_SUGGESTED else "NEW-ID"
    return f'{{"id": {json.dumps(shown, ensure_ascii=False)}, ...}}'




def _prefix(segments: list[str], depth: int) -> str:
    """The pointer up to (not including) `segments[depth]`, escaped again, for a message."""
    return _display("".join(f"/{escape(segment)}" for segment in segments[:depth]))


def _edge_name(edge: Any) -> str | None:
    if isinstance(edge, dict) and isinstance(edge.get("source"), str) and isinstance(edge.get("target"), str):
        return edge_segment(edge["source"], edge["target"])
    return None


def _listing(label: str, names: list[Any]) -> str:
    shown = [_display(str(name)) for name in names if name is not None]
    if not shown:
        return f" (no {label})"
    more = f", ... ({len(shown) - _MAX_LISTED} more)" if len(shown) > _MAX_LISTED else ""
    return f" ({label}: {', '.join(shown[:_MAX_LISTED])}{more})"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an unexpected value"

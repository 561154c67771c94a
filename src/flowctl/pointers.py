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
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, NamedTuple

from . import jsonio
from .diff import _escape, _split
from .errors import BadInput

_APPEND = "-"
_MAX_LISTED = 20  # node ids or keys named in one message


class Edit(NamedTuple):
    """One `--set POINTER=JSON` (value given) or `--unset POINTER`."""

    pointer: str
    value: Any = None
    unset: bool = False

    @property
    def flag(self) -> str:
        return "--unset" if self.unset else "--set"


def parse_set(text: str) -> Edit:
    """`POINTER=JSON` as an Edit; the value is JSON (quote strings)."""
    pointer, equals, raw = text.partition("=")
    if not equals:
        raise BadInput(f"--set {text!r} needs POINTER=JSON, e.g. --set '/nodes/rank/config/topN=3'")
    _segments(pointer, "--set")
    try:
        value = jsonio.parse_document(raw, f"--set {pointer}")
    except BadInput as exc:
        raise BadInput(
            f"{exc.message}; the value is JSON, so quote a string: --set '{pointer}=\"{raw}\"'"
        ) from None
    return Edit(pointer, value)


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
        return _split(pointer)
    except ValueError:
        raise BadInput(
            f"{flag} {pointer!r}: a path must be a JSON Pointer starting with '/', "
            "e.g. /nodes/rank/config/topN"
        ) from None


def _apply_one(doc: Any, edit: Edit) -> Any:
    segments = _segments(edit.pointer, edit.flag)
    if not segments:
        return copy.deepcopy(edit.value)  # --set '=...' replaces the whole draft
    walk = _Walk(edit)
    parent = doc
    for depth in range(len(segments) - 1):
        parent = walk.child(parent, segments, depth)
    walk.write(parent, segments)
    return doc


class _Walk:
    """Resolves one edit's pointer, one segment at a time, for precise messages."""

    def __init__(self, edit: Edit) -> None:
        self.edit = edit

    def fail(self, reason: str) -> BadInput:
        return BadInput(f"{self.edit.flag} {self.edit.pointer}: {reason}")

    def child(self, parent: Any, segments: list[str], depth: int) -> Any:
        """The value at `segments[depth]` below `parent`, which must exist."""
        where, segment = _prefix(segments, depth), segments[depth]
        if isinstance(parent, dict):
            key = _dict_key(parent, segment, segments, depth)
            if key not in parent:
                raise self.fail(f"{where or 'the config'} has no {segment!r}{_listing('keys', list(parent))}")
            return parent[key]
        if isinstance(parent, list):
            return parent[self.list_positions(parent, segments, depth, for_write=False)[0]]
        raise self.fail(f"{where} is {_kind(parent)}, not an object or a list")

    def write(self, parent: Any, segments: list[str]) -> None:
        """Set or remove the last segment's value in `parent`."""
        depth = len(segments) - 1
        segment, edit = segments[depth], self.edit
        if isinstance(parent, dict):
            key = _dict_key(parent, segment, segments, depth)
            if not edit.unset:
                parent[key] = copy.deepcopy(edit.value)  # a new key goes last; an old one keeps its place
            elif key in parent:
                del parent[key]
            else:
                where = _prefix(segments, depth) or "the config"
                raise self.fail(f"nothing to unset: {where} has no {segment!r}{_listing('keys', list(parent))}")
            return
        if not isinstance(parent, list):
            raise self.fail(f"{_prefix(segments, depth)} is {_kind(parent)}, not an object or a list")
        if segment == _APPEND and not edit.unset:
            parent.append(copy.deepcopy(edit.value))
            return
        positions = self.list_positions(parent, segments, depth, for_write=True)
        if not edit.unset:
            parent[positions[0]] = copy.deepcopy(edit.value)
            return
        for position in reversed(positions):
            del parent[position]

    def list_positions(self, items: list[Any], segments: list[str], depth: int, *, for_write: bool) -> list[int]:
        """Where `segments[depth]` points in a list: a node id, an edge pair, or an index."""
        segment, where = segments[depth], _prefix(segments, depth)
        if segment == _APPEND:
            if for_write:
                raise self.fail("'-' means append: there is nothing there to unset")
            raise self.fail("'-' (append) can only be the last segment of a --set path")
        if depth == 1 and segments[0] == "nodes":
            return [self.node_position(items, segment, last=depth == len(segments) - 1)]
        if depth == 1 and segments[0] == "edges" and "->" in segment:
            found = [i for i, edge in enumerate(items) if _edge_name(edge) == segment]
            if not found:
                raise self.fail(f"no edge {segment!r} in /edges{_listing('edges', [_edge_name(e) for e in items])}")
            return found  # edges are a set: unset removes every copy of the pair
        if not (segment.isascii() and segment.isdigit()):
            indexes = f"an index (0-{len(items) - 1}) or " if items else ""
            raise self.fail(f"{where} is a list: use {indexes}'-' to append, not {segment!r}")
        index = int(segment)
        if index >= len(items):
            raise self.fail(f"{where} has {len(items)} items: index {index} is out of range"
                            + ("; use '-' to append" if for_write and not self.edit.unset else ""))
        return [index]

    def node_position(self, nodes: list[Any], node_id: str, *, last: bool) -> int:
        found = [i for i, node in enumerate(nodes) if isinstance(node, dict) and node.get("id") == node_id]
        if len(found) > 1:
            raise self.fail(f"{len(found)} nodes have id {node_id!r}: give them unique ids with `flowctl edit`")
        if found:
            return found[0]
        ids = [node["id"] for node in nodes if isinstance(node, dict) and isinstance(node.get("id"), str)]
        hint = ""
        if last and not self.edit.unset:
            hint = f"; to add a node, append it: --set '/nodes/-={{\"id\": \"{node_id}\", ...}}'"
        raise self.fail(f"no node with id {node_id!r}{_listing('node ids', ids)}{hint}")


def _dict_key(parent: dict[str, Any], segment: str, segments: list[str], depth: int) -> str:
    """`config` of a node spelled with `data` is its `data`, as `diff` reads it."""
    in_node = depth == 2 and segments[0] == "nodes"
    if in_node and segment == "config" and "config" not in parent and "data" in parent:
        return "data"
    return segment


def _prefix(segments: list[str], depth: int) -> str:
    """The pointer up to (not including) `segments[depth]`, escaped again."""
    return "".join(f"/{_escape(segment)}" for segment in segments[:depth])


def _edge_name(edge: Any) -> str | None:
    if isinstance(edge, dict) and isinstance(edge.get("source"), str) and isinstance(edge.get("target"), str):
        return f"{edge['source']}->{edge['target']}"
    return None


def _listing(label: str, names: list[Any]) -> str:
    shown = [str(name) for name in names if name is not None]
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

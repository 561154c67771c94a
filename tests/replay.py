"""Replay a structural diff: the test oracle that proves `diff` complete.

`apply_changes(old, diff_configs(old, new))` gives back `new` (up to what a
change list cannot say: see `apply_changes`), which is how test_diff.py shows
that no change is ever left out of `diff`'s output. flowctl itself never
replays a diff, so this lives with the tests and is not shipped. Pointer
edits go through flowctl's one JSON-Pointer engine, `pointers.edit_at`, with
the RFC 6902 meanings of `add`, `remove` and `replace`; nodes and edges are
replayed by id and by pair here, as `diff` wrote them.
"""

from __future__ import annotations

from collections import deque
from copy import deepcopy
from typing import Any

from flowctl.diff import Change, Config, as_config, edge_index, edge_pair, node_index
from flowctl.jsonpointer import split
from flowctl.pointers import Op, edit_at

__all__ = ["apply_changes"]

# A change's op as the pointer engine's: `add` inserts into a list (RFC 6902).
_OPS: dict[str, Op] = {"add": "insert", "remove": "unset", "replace": "replace"}


def _value(change: Change, key: str) -> Any:
    if key not in change:
        raise ValueError(f"{change.get('op')} at {change.get('path')!r} needs {key!r}")
    return change[key]


def _apply_pointer(root: Any, segments: list[str], change: Change) -> Any:
    """Apply one add/remove/replace at `segments` below `root`; return the root."""
    op = change.get("op")
    if op not in _OPS:
        raise ValueError(f"cannot apply {op!r} at {change.get('path')!r}")
    if not segments:
        if op == "remove":
            raise ValueError("cannot remove the whole config")
        return deepcopy(_value(change, "new"))
    value = None if op == "remove" else _value(change, "new")
    # keyed=False: what reaches here is positional (a `nodes` list that is no
    # node list, or a path inside one node), not read by node id or edge name.
    edit_at(root, segments, _OPS[op], value, label=f"{op} at {change.get('path')!r}", keyed=False, error=ValueError)
    return root


def _rename_key(mapping: Config, old: str, new: str) -> None:
    """Rename a key in place, keeping the key order (files keep the user's order)."""
    items = list(mapping.items())
    mapping.clear()
    mapping.update((new if key == old else key, value) for key, value in items)


class _NodeReplay:
    """Node changes replayed on an id map, then laid out again as a list."""

    def __init__(self, nodes: list[Config]) -> None:
        self.original = nodes
        self.old_order: list[str] = [node["id"] for node in nodes]
        self.by_id: dict[str, Config] = {node["id"]: node for node in nodes}
        self.added: set[str] = set()
        self.moved: dict[str, int] = {}
        # Ids in the order the changes first name them. diff_configs emits
        # node changes in new list order, which is what `layout` relies on.
        self.sequence: list[str] = []
        self._named: set[str] = set()
        # Nodes whose `data` the diff read as `config`, and those of them
        # renamed so far (id -> node object, to undo only on that object).
        self.aliased = {node["id"] for node in nodes if "data" in node and "config" not in node}
        self.renamed: dict[str, Config] = {}

    def apply(self, node_id: str, rest: list[str], change: Change) -> None:
        """Replay one change at `/nodes/<node_id>/<rest...>`."""
        op = change.get("op")
        if node_id not in self._named:
            self._named.add(node_id)
            self.sequence.append(node_id)
        if not rest:
            if op == "add":
                self.by_id[node_id] = deepcopy(_value(change, "new"))
                self.added.add(node_id)
                return
            if node_id not in self.by_id:
                raise ValueError(f"no node {node_id!r} to {op}")
            if op == "remove":
                del self.by_id[node_id]
                self.added.discard(node_id)
                self.moved.pop(node_id, None)
            elif op == "move":
                new_index = _value(change, "new")
                if not isinstance(new_index, int) or isinstance(new_index, bool) or new_index < 0:
                    raise ValueError(f"move of node {node_id!r} needs a non-negative index")
                self.moved[node_id] = new_index
            elif op == "replace":
                self.by_id[node_id] = deepcopy(_value(change, "new"))
            else:
                raise ValueError(f"cannot apply {op!r} to node {node_id!r}")
            return
        node = self.by_id.get(node_id)
        if node is None:
            raise ValueError(f"no node {node_id!r} for {change.get('path')!r}")
        if node_id in self.aliased and node_id not in self.renamed:
            # The diff spoke of this node's `data` as `config`, so paths name
            # the normalised node; normalise it once (deciding per change
            # would flip as keys come and go) and restore the spelling in
            # `layout`.
            _rename_key(node, "data", "config")
            self.renamed[node_id] = node
        _apply_pointer(node, rest, change)

    def layout(self) -> list[Config]:
        """The node list: old order, with moved and added nodes placed.

        Nodes that were neither moved nor added ("stayed") keep their old
        relative order. A moved node's new index counts every node before it
        in the new list; the changes named before it (in new order) account
        for the added and moved ones, so the rest of that count is exactly the
        number of stayed nodes that precede it. Added nodes carry no index:
        they go just before the next node the changes name, else at the end.
        Nodes normalised for a change get their `data` spelling back first.
        """
        for node_id, node in self.renamed.items():
            # Give back the user's spelling unless a real `data` key now
            # sits next to `config` (then both are needed as they are).
            if self.by_id.get(node_id) is node and "config" in node and "data" not in node:
                _rename_key(node, "config", "data")
        placed: set[str] = set()
        out: list[str] = []
        pending: list[str] = []
        stayed = deque(
            node_id
            for node_id in self.old_order
            if node_id in self.by_id and node_id not in self.moved and node_id not in self.added
        )

        def next_stayed() -> str | None:
            while stayed:
                node_id = stayed.popleft()
                if node_id not in placed:
                    return node_id
            return None

        def place(node_id: str) -> None:
            out.append(node_id)
            placed.add(node_id)

        for node_id in self.sequence:
            if node_id in placed or node_id not in self.by_id:
                continue
            if node_id in self.added:
                pending.append(node_id)
                placed.add(node_id)
                continue
            if node_id in self.moved:
                missing = self.moved[node_id] - len(out) - len(pending)
                while missing > 0 and (other := next_stayed()) is not None:
                    place(other)
                    missing -= 1
            else:
                while (other := next_stayed()) is not None and other != node_id:
                    place(other)
            out.extend(pending)
            pending.clear()
            place(node_id)
        while (other := next_stayed()) is not None:
            place(other)
        out.extend(pending)
        out.extend(node_id for node_id in self.by_id if node_id not in placed)
        return [self.by_id[node_id] for node_id in out]


class _EdgeReplay:
    """Edge changes replayed as set operations on (source, target)."""

    def __init__(self, edges: list[Config]) -> None:
        self.original = edges
        self.removed: set[tuple[str, str]] = set()
        self.added: list[Config] = []

    def apply(self, change: Change) -> None:
        """Replay one change at `/edges/<source->target>`."""
        op = change.get("op")
        if op not in ("add", "remove"):
            raise ValueError(f"cannot apply {op!r} to an edge")
        # The pair comes from the edge object, not the path: `a->b->c` in a
        # path cannot say which arrow separates source from target.
        edge = _value(change, "new" if op == "add" else "old")
        pair = edge_pair(edge)
        if pair is None:
            raise ValueError(f"{op} at {change.get('path')!r} needs an edge object")
        if op == "add":
            self.added.append(deepcopy(edge))
        else:
            self.removed.add(pair)

    def layout(self) -> list[Config]:
        """The edges left, in old order, then the added ones not already there."""
        # One pass at the end instead of a list scan per removal, so many
        # edge changes stay linear. As a set, the order of changes is moot.
        kept = [edge for edge in self.original if edge_pair(edge) not in self.removed]
        present = {edge_pair(edge) for edge in kept}
        for edge in self.added:
            pair = edge_pair(edge)
            if pair not in present:
                present.add(pair)
                kept.append(edge)
        return kept


def apply_changes(old: Config | None, changes: list[Change]) -> Any:
    """Apply `changes` (as made by `diff_configs`) to a deep copy of `old`.

    `None` is `{}`. Node paths are read by id when `old`'s `nodes` is a node
    list, edge paths as pairs when `old`'s `edges` is an edge list (the same
    rule the diff used); everything else is a JSON Pointer. Changes are
    applied in list order; node moves rely on the diff's new-order emission.
    Added nodes cannot be put back at their exact index (an `add` carries
    none), so they land before the next node the changes mention, or last.
    Raises ValueError for a change that does not fit the config. The result
    is Any, not a Config: a `replace` of the root may put any value there.
    """
    doc: Any = deepcopy(as_config(old, "old"))
    nodes = _NodeReplay(doc["nodes"]) if node_index(doc.get("nodes")) is not None else None
    edges = _EdgeReplay(doc["edges"]) if edge_index(doc.get("edges")) is not None else None
    nodes_used = edges_used = False
    for change in changes:
        segments = split(change.get("path"))
        if nodes is not None and len(segments) >= 2 and segments[0] == "nodes":
            nodes.apply(segments[1], segments[2:], change)
            nodes_used = True
        elif edges is not None and len(segments) == 2 and segments[0] == "edges":
            edges.apply(change)
            edges_used = True
        else:
            doc = _apply_pointer(doc, segments, change)
    # Only lay out again if the list was not replaced or dropped meanwhile.
    if nodes is not None and nodes_used and isinstance(doc, dict) and doc.get("nodes") is nodes.original:
        doc["nodes"] = nodes.layout()
    if edges is not None and edges_used and isinstance(doc, dict) and doc.get("edges") is edges.original:
        doc["edges"] = edges.layout()
    return doc

"""Structural, node-aware diff of decision-flow configs (docs/contract.md §5 `diff`).

Only configs are compared (never notes or version metadata). A config is a
JSON object; v2 configs carry `nodes` (matched by `id`, `data` read as
`config`) and optional `edges` (a set of (source, target) pairs); v1 configs
and every other key are compared recursively, lists by position.

A change is a plain dict `{"op", "path", "old"?, "new"?}` with `op` one of
`add` (no `old`), `remove` (no `new`), `replace` or `move` (`old`/`new` are
indexes in the old and new node lists). Paths are RFC 6901 JSON Pointers
(`jsonpointer`); node paths use the node id (`/nodes/score-1/config/method`)
and edge paths `/edges/<source>-><target>`, each segment escaped.

This module makes the change list and its JSON document (`to_json`); the
text and unified views are in `diff_text`, and `update --set/--unset`
(`pointers`) reads the same paths back.

Everything here is pure stdlib and linear-ish in config size: nodes and
edges are indexed by key in dicts, and moves use an O(n log n) longest
increasing subsequence, so two 5,000-node configs diff in milliseconds.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from .jsonpointer import edge_segment, join

__all__ = [
    "Change",
    "Config",
    "as_config",
    "diff_configs",
    "edge_index",
    "edge_pair",
    "node_index",
    "to_json",
]

Change = dict[str, Any]  # {"op": "add|remove|replace|move", "path": str, "old"?: Any, "new"?: Any}
Config = dict[str, Any]  # a decision-flow config (docs/contract.md §4), or any JSON object

# ---------------------------------------------------------------------------
# Shapes: public because the text view (diff_text) must recognise node and
# edge lists by exactly the rules the diff used to write their paths.
# ---------------------------------------------------------------------------


def node_index(value: Any) -> dict[str, tuple[int, Config]] | None:
    """id -> (position, node) when `value` is a node list, else None.

    A node list is a list of dicts each with a string `id`, ids unique: with a
    duplicate id, matching by id would silently drop a node, so such a list
    is compared generically instead.
    """
    if not isinstance(value, list):
        return None
    index: dict[str, tuple[int, Config]] = {}
    for position, node in enumerate(value):
        if not isinstance(node, dict):
            return None
        node_id = node.get("id")
        if not isinstance(node_id, str) or node_id in index:
            return None
        index[node_id] = (position, node)
    return index


def edge_pair(edge: Any) -> tuple[str, str] | None:
    """(source, target) of an edge object with string ends, else None."""
    if isinstance(edge, dict):
        source, target = edge.get("source"), edge.get("target")
        if isinstance(source, str) and isinstance(target, str):
            return source, target
    return None


def edge_index(value: Any) -> dict[tuple[str, str], Config] | None:
    """(source, target) -> first edge object with that pair, or None.

    Edges form a set of pairs: duplicates collapse and any other key on an
    edge object (labels, conditions...) is ignored, since the pipeline only
    follows source -> target. The first object of a pair is the one reported.
    """
    if not isinstance(value, list):
        return None
    index: dict[tuple[str, str], Config] = {}
    for edge in value:
        pair = edge_pair(edge)
        if pair is None:
            return None
        index.setdefault(pair, edge)
    return index


def _edgeless(config: Config) -> bool:
    """True when the config's nodes run in list order (no or empty `edges`)."""
    edges = config.get("edges")
    return edges is None or (isinstance(edges, list) and not edges)


def _same_json(a: Any, b: Any) -> bool:
    """Identical as JSON values, key order included (unlike ==, repr tells 1,
    1.0 and True apart); a C-speed test that lets equal nodes skip the walk.
    A False here only means "walk it": the walk decides what changed."""
    return repr(a) == repr(b)


def _normal_node(node: Config) -> Config:
    """The node with `data` spelled `config` (only when `config` is absent).

    A node carrying both keys keeps both: `data` is then an ordinary key.
    """
    if "data" in node and "config" not in node:
        return {("config" if key == "data" else key): value for key, value in node.items()}
    return node


def _kind(value: Any) -> str:
    """The JSON type of a value, for deciding replace-vs-recurse.

    bool is its own kind (True is not 1), and int and float share the kind
    "number": JSON has one number type, so `1` and `1.0` are the same value
    and not a change (the unified view, being textual, still shows them).
    """
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _numbers_equal(a: int | float, b: int | float) -> bool:
    # NaN is not valid JSON but Python's json reads it; without this a NaN
    # would be reported as changed on every diff.
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def _lis_positions(sequence: list[int]) -> set[int]:
    """Positions of one longest strictly increasing subsequence, O(n log n)."""
    tail_values: list[int] = []
    tail_positions: list[int] = []
    previous = [-1] * len(sequence)
    for position, value in enumerate(sequence):
        slot = bisect_left(tail_values, value)
        if slot:
            previous[position] = tail_positions[slot - 1]
        if slot == len(tail_values):
            tail_values.append(value)
            tail_positions.append(position)
        else:
            tail_values[slot] = value
            tail_positions[slot] = position
    members: set[int] = set()
    position = tail_positions[-1] if tail_positions else -1
    while position >= 0:
        members.add(position)
        position = previous[position]
    return members


# ---------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------


def as_config(config: Config | None, side: str) -> Config:
    """`config` itself, `{}` for None; TypeError (naming `side`) for a non-object."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"{side} config must be a JSON object or None, not {type(config).__name__}")
    return config


def diff_configs(old: Config | None, new: Config | None) -> list[Change]:
    """The changes that turn config `old` into config `new`.

    `None` on either side means "no config" and is treated as `{}`. Order is
    deterministic: node changes (new node order, then removed nodes in old
    order), edge changes (added in new order, then removed in old order),
    then every other top-level key in sorted order. `old`/`new` values are
    the caller's objects, not copies.
    """
    a = as_config(old, "old")
    b = as_config(new, "new")
    out: list[Change] = []
    keys = a.keys() | b.keys()
    if "nodes" in keys:
        _diff_nodes(a, b, out)
    if "edges" in keys:
        _diff_edges(a, b, out)
    for key in sorted(keys - {"nodes", "edges"}):
        _diff_member(a, b, key, join("", key), out)
    return out


def _diff_member(a: Config, b: Config, key: str, path: str, out: list[Change]) -> None:
    if key not in a:
        out.append({"op": "add", "path": path, "new": b[key]})
    elif key not in b:
        out.append({"op": "remove", "path": path, "old": a[key]})
    else:
        _diff_value(path, a[key], b[key], out)


def _diff_value(path: str, a: Any, b: Any, out: list[Change]) -> None:
    """Generic recursion: objects by key, arrays by position, else replace."""
    if a is b:
        return
    kind = _kind(a)
    if kind != _kind(b):
        out.append({"op": "replace", "path": path, "old": a, "new": b})
    elif kind == "object":
        for key in sorted(a.keys() | b.keys()):
            _diff_member(a, b, key, join(path, key), out)
    elif kind == "array":
        common = min(len(a), len(b))
        for i in range(common):
            _diff_value(join(path, i), a[i], b[i], out)
        for i in range(common, len(b)):
            out.append({"op": "add", "path": join(path, i), "new": b[i]})
        # Highest index first, so replaying the removals one by one (JSON
        # Patch style) never shifts an index that is still to be removed.
        for i in range(len(a) - 1, common - 1, -1):
            out.append({"op": "remove", "path": join(path, i), "old": a[i]})
    elif kind == "number":
        if not _numbers_equal(a, b):
            out.append({"op": "replace", "path": path, "old": a, "new": b})
    elif a != b:
        out.append({"op": "replace", "path": path, "old": a, "new": b})


def _keyed_lists(a: Config, b: Config, key: str, make_index: Any, out: list[Change]) -> tuple[Any, ...] | None:
    """Both sides' `key` list with its index (by node id, by edge pair), or
    None when the generic rules have already reported that member."""
    if key not in a or key not in b:
        _diff_member(a, b, key, f"/{key}", out)
        return None
    old, new = a[key], b[key]
    old_index, new_index = make_index(old), make_index(new)
    if old_index is None and new_index is None:
        _diff_value(f"/{key}", old, new, out)
        return None
    if old_index is None or new_index is None:
        # Only one side is keyed: they cannot be equal, and a positional diff
        # would put `/nodes/0` (an index) where readers and the replay
        # (tests/replay.py) expect `/nodes/<id>` (or an edge pair), so
        # replace the list whole.
        out.append({"op": "replace", "path": f"/{key}", "old": old, "new": new})
        return None
    return old, new, old_index, new_index


def _diff_nodes(a: Config, b: Config, out: list[Change]) -> None:
    keyed = _keyed_lists(a, b, "nodes", node_index, out)
    if keyed is None:
        return
    old_nodes, new_nodes, old_index, new_index = keyed

    moved: set[str] = set()
    if _edgeless(b):
        # Without edges the list order is the execution order. Nodes whose
        # old indexes, read in new order, form a longest increasing run kept
        # their relative order; only the rest moved. So inserting one node at
        # the front does not report every later node as moved.
        common = [node["id"] for node in new_nodes if node["id"] in old_index]
        kept = _lis_positions([old_index[node_id][0] for node_id in common])
        moved = {node_id for i, node_id in enumerate(common) if i not in kept}

    for position, node in enumerate(new_nodes):
        node_id = node["id"]
        if node_id not in old_index:
            out.append({"op": "add", "path": join("/nodes", node_id), "new": node})
            continue
        old_position, old_node = old_index[node_id]
        if node_id in moved:
            out.append({"op": "move", "path": join("/nodes", node_id), "old": old_position, "new": position})
        if old_node == node and _same_json(old_node, node):
            continue  # the common case in a big pipeline: skip the walk (and the path), in C
        _diff_value(join("/nodes", node_id), _normal_node(old_node), _normal_node(node), out)
    for node in old_nodes:
        if node["id"] not in new_index:
            out.append({"op": "remove", "path": join("/nodes", node["id"]), "old": node})


def _diff_edges(a: Config, b: Config, out: list[Change]) -> None:
    keyed = _keyed_lists(a, b, "edges", edge_index, out)
    if keyed is None:
        return
    _, _, old_index, new_index = keyed
    for pair, edge in new_index.items():
        if pair not in old_index:
            out.append({"op": "add", "path": join("/edges", edge_segment(*pair)), "new": edge})
    for pair, edge in old_index.items():
        if pair not in new_index:
            out.append({"op": "remove", "path": join("/edges", edge_segment(*pair)), "old": edge})


def to_json(from_label: str, to_label: str, changes: list[Change]) -> dict[str, Any]:
    """The `diff --format json` document: `{"from", "to", "changes"}`."""
    return {"from": from_label, "to": to_label, "changes": list(changes)}

"""Structural, node-aware diff of decision-flow configs (SPEC §5 `diff`).

Only configs are compared (never notes or version metadata). A config is a
JSON object; v2 configs carry `nodes` (matched by `id`, `data` read as
`config`) and optional `edges` (a set of (source, target) pairs); v1 configs
and every other key are compared recursively, lists by position.

A change is a plain dict `{"op", "path", "old"?, "new"?}` with `op` one of
`add` (no `old`), `remove` (no `new`), `replace` or `move` (`old`/`new` are
indexes in the old and new node lists). Paths are RFC 6901 JSON Pointers;
node paths use the node id (`/nodes/score-1/config/method`) and edge paths
`/edges/<source>-><target>`, each segment escaped.

The same change list renders as JSON (`to_json`), as grouped text lines
(`text_lines`, `summary_line`) and can be replayed (`apply_changes`). A
line-based view of the canonical pretty JSON is available via `unified`.

Everything here is pure stdlib and linear-ish in config size: nodes and
edges are indexed by key in dicts, and moves use an O(n log n) longest
increasing subsequence, so two 5,000-node configs diff in milliseconds.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections import deque
from copy import deepcopy
from typing import Any

__all__ = [
    "Change",
    "apply_changes",
    "diff_configs",
    "summary_line",
    "text_lines",
    "to_json",
    "unified",
]

Change = dict  # {"op": "add|remove|replace|move", "path": str, "old"?: Any, "new"?: Any}

# Rendered values longer than this are cut with an ellipsis so a text line
# stays a line.
_MAX_SHOWN = 60

# ---------------------------------------------------------------------------
# JSON Pointer helpers (shared by diff, apply and text rendering)
# ---------------------------------------------------------------------------


def _escape(segment: str) -> str:
    """Escape one JSON Pointer reference token (RFC 6901 §3)."""
    # `~` first, or the `~` introduced by `~1` would be escaped again.
    return segment.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    """Undo `_escape` (RFC 6901 §4 order: `~1` before `~0`)."""
    return segment.replace("~1", "/").replace("~0", "~")


def _join(base: str, segment: str | int) -> str:
    return f"{base}/{_escape(str(segment))}"


def _split(path: str) -> list[str]:
    """Split a JSON Pointer into unescaped reference tokens (`""` is the root)."""
    if not isinstance(path, str):
        raise ValueError(f"change path must be a string, not {type(path).__name__}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {path!r}")
    return [_unescape(s) for s in path[1:].split("/")]


def _edge_segment(source: str, target: str) -> str:
    return f"{source}->{target}"


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


def _node_index(value: Any) -> dict[str, tuple[int, dict]] | None:
    """id -> (position, node) when `value` is a node list, else None.

    A node list is a list of dicts each with a string `id`, ids unique: with a
    duplicate id, matching by id would silently drop a node, so such a list
    is compared generically instead.
    """
    if not isinstance(value, list):
        return None
    index: dict[str, tuple[int, dict]] = {}
    for position, node in enumerate(value):
        if not isinstance(node, dict):
            return None
        node_id = node.get("id")
        if not isinstance(node_id, str) or node_id in index:
            return None
        index[node_id] = (position, node)
    return index


def _edge_pair(edge: Any) -> tuple[str, str] | None:
    if isinstance(edge, dict):
        source, target = edge.get("source"), edge.get("target")
        if isinstance(source, str) and isinstance(target, str):
            return source, target
    return None


def _edge_index(value: Any) -> dict[tuple[str, str], dict] | None:
    """(source, target) -> first edge object with that pair, or None.

    Edges form a set of pairs: duplicates collapse and any other key on an
    edge object (labels, conditions...) is ignored, since the pipeline only
    follows source -> target. The first object of a pair is the one reported.
    """
    if not isinstance(value, list):
        return None
    index: dict[tuple[str, str], dict] = {}
    for edge in value:
        pair = _edge_pair(edge)
        if pair is None:
            return None
        index.setdefault(pair, edge)
    return index


def _edgeless(config: dict) -> bool:
    """True when the config's nodes run in list order (no or empty `edges`)."""
    edges = config.get("edges")
    return edges is None or (isinstance(edges, list) and not edges)


def _same_json(a: Any, b: Any) -> bool:
    """Identical as JSON values, key order included (unlike ==, repr tells 1,
    1.0 and True apart); a C-speed test that lets equal nodes skip the walk.
    A False here only means "walk it": the walk decides what changed."""
    return repr(a) == repr(b)


def _normal_node(node: dict) -> dict:
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


def _as_config(config: dict | None, side: str) -> dict:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"{side} config must be a JSON object or None, not {type(config).__name__}")
    return config


def diff_configs(old: dict | None, new: dict | None) -> list[dict]:
    """The changes that turn config `old` into config `new`.

    `None` on either side means "no config" and is treated as `{}`. Order is
    deterministic: node changes (new node order, then removed nodes in old
    order), edge changes (added in new order, then removed in old order),
    then every other top-level key in sorted order. `old`/`new` values are
    the caller's objects, not copies.
    """
    a = _as_config(old, "old")
    b = _as_config(new, "new")
    out: list[dict] = []
    keys = a.keys() | b.keys()
    if "nodes" in keys:
        _diff_nodes(a, b, out)
    if "edges" in keys:
        _diff_edges(a, b, out)
    for key in sorted(keys - {"nodes", "edges"}):
        _diff_member(a, b, key, _join("", key), out)
    return out


def _diff_member(a: dict, b: dict, key: str, path: str, out: list[dict]) -> None:
    if key not in a:
        out.append({"op": "add", "path": path, "new": b[key]})
    elif key not in b:
        out.append({"op": "remove", "path": path, "old": a[key]})
    else:
        _diff_value(path, a[key], b[key], out)


def _diff_value(path: str, a: Any, b: Any, out: list[dict]) -> None:
    """Generic recursion: objects by key, arrays by position, else replace."""
    if a is b:
        return
    kind = _kind(a)
    if kind != _kind(b):
        out.append({"op": "replace", "path": path, "old": a, "new": b})
    elif kind == "object":
        for key in sorted(a.keys() | b.keys()):
            _diff_member(a, b, key, _join(path, key), out)
    elif kind == "array":
        common = min(len(a), len(b))
        for i in range(common):
            _diff_value(_join(path, i), a[i], b[i], out)
        for i in range(common, len(b)):
            out.append({"op": "add", "path": _join(path, i), "new": b[i]})
        # Highest index first, so replaying the removals one by one (JSON
        # Patch style) never shifts an index that is still to be removed.
        for i in range(len(a) - 1, common - 1, -1):
            out.append({"op": "remove", "path": _join(path, i), "old": a[i]})
    elif kind == "number":
        if not _numbers_equal(a, b):
            out.append({"op": "replace", "path": path, "old": a, "new": b})
    elif a != b:
        out.append({"op": "replace", "path": path, "old": a, "new": b})


def _keyed_lists(a: dict, b: dict, key: str, make_index: Any, out: list[dict]) -> tuple[Any, ...] | None:
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
        # would put `/nodes/0` (an index) where readers and apply_changes
        # expect `/nodes/<id>` (or an edge pair), so replace the list whole.
        out.append({"op": "replace", "path": f"/{key}", "old": old, "new": new})
        return None
    return old, new, old_index, new_index


def _diff_nodes(a: dict, b: dict, out: list[dict]) -> None:
    keyed = _keyed_lists(a, b, "nodes", _node_index, out)
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
            out.append({"op": "add", "path": _join("/nodes", node_id), "new": node})
            continue
        old_position, old_node = old_index[node_id]
        if node_id in moved:
            out.append({"op": "move", "path": _join("/nodes", node_id), "old": old_position, "new": position})
        if old_node == node and _same_json(old_node, node):
            continue  # the common case in a big pipeline: skip the walk (and the path), in C
        _diff_value(_join("/nodes", node_id), _normal_node(old_node), _normal_node(node), out)
    for node in old_nodes:
        if node["id"] not in new_index:
            out.append({"op": "remove", "path": _join("/nodes", node["id"]), "old": node})


def _diff_edges(a: dict, b: dict, out: list[dict]) -> None:
    keyed = _keyed_lists(a, b, "edges", _edge_index, out)
    if keyed is None:
        return
    _, _, old_index, new_index = keyed
    for pair, edge in new_index.items():
        if pair not in old_index:
            out.append({"op": "add", "path": _join("/edges", _edge_segment(*pair)), "new": edge})
    for pair, edge in old_index.items():
        if pair not in new_index:
            out.append({"op": "remove", "path": _join("/edges", _edge_segment(*pair)), "old": edge})


# ---------------------------------------------------------------------------
# Apply
# ---------------------------------------------------------------------------


def _value(change: dict, key: str) -> Any:
    if key not in change:
        raise ValueError(f"{change.get('op')} at {change.get('path')!r} needs {key!r}")
    return change[key]


def _index(segment: str, length: int, *, insert: bool) -> int:
    if segment == "-" and insert:
        return length
    if not (segment.isascii() and segment.isdigit()):
        raise ValueError(f"not an array index: {segment!r}")
    index = int(segment)
    if index > length or (index == length and not insert):
        raise ValueError(f"array index {index} out of range (length {length})")
    return index


def _apply_pointer(root: Any, segments: list[str], change: dict) -> Any:
    """Apply one add/remove/replace at `segments` below `root`; return the root."""
    op = change.get("op")
    if op not in ("add", "remove", "replace"):
        raise ValueError(f"cannot apply {op!r} at {change.get('path')!r}")
    if not segments:
        if op == "remove":
            raise ValueError("cannot remove the whole config")
        return deepcopy(_value(change, "new"))
    parent = root
    for segment in segments[:-1]:
        if isinstance(parent, dict) and segment in parent:
            parent = parent[segment]
        elif isinstance(parent, list):
            parent = parent[_index(segment, len(parent), insert=False)]
        else:
            raise ValueError(f"path {change.get('path')!r} does not exist")
    last = segments[-1]
    if isinstance(parent, dict):
        if op == "remove":
            if last not in parent:
                raise ValueError(f"path {change.get('path')!r} does not exist")
            del parent[last]
        else:
            parent[last] = deepcopy(_value(change, "new"))
    elif isinstance(parent, list):
        index = _index(last, len(parent), insert=op == "add")
        if op == "add":
            parent.insert(index, deepcopy(_value(change, "new")))
        elif op == "replace":
            parent[index] = deepcopy(_value(change, "new"))
        else:
            del parent[index]
    else:
        raise ValueError(f"path {change.get('path')!r} does not exist")
    return root


def _rename_key(mapping: dict, old: str, new: str) -> None:
    """Rename a key in place, keeping the key order (files keep the user's order)."""
    items = list(mapping.items())
    mapping.clear()
    mapping.update((new if key == old else key, value) for key, value in items)


class _NodeReplay:
    """Node changes replayed on an id map, then laid out again as a list."""

    def __init__(self, nodes: list[dict]) -> None:
        self.original = nodes
        self.old_order = [node["id"] for node in nodes]
        self.by_id = {node["id"]: node for node in nodes}
        self.added: set[str] = set()
        self.moved: dict[str, int] = {}
        # Ids in the order the changes first name them. diff_configs emits
        # node changes in new list order, which is what `layout` relies on.
        self.sequence: list[str] = []
        self._named: set[str] = set()
        # Nodes whose `data` the diff read as `config`, and those of them
        # renamed so far (id -> node object, to undo only on that object).
        self.aliased = {node["id"] for node in nodes if "data" in node and "config" not in node}
        self.renamed: dict[str, dict] = {}

    def apply(self, node_id: str, rest: list[str], change: dict) -> None:
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

    def layout(self) -> list[dict]:
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

    def __init__(self, edges: list[dict]) -> None:
        self.original = edges
        self.removed: set[tuple[str, str]] = set()
        self.added: list[dict] = []

    def apply(self, change: dict) -> None:
        op = change.get("op")
        if op not in ("add", "remove"):
            raise ValueError(f"cannot apply {op!r} to an edge")
        # The pair comes from the edge object, not the path: `a->b->c` in a
        # path cannot say which arrow separates source from target.
        edge = _value(change, "new" if op == "add" else "old")
        pair = _edge_pair(edge)
        if pair is None:
            raise ValueError(f"{op} at {change.get('path')!r} needs an edge object")
        if op == "add":
            self.added.append(deepcopy(edge))
        else:
            self.removed.add(pair)

    def layout(self) -> list[dict]:
        # One pass at the end instead of a list scan per removal, so many
        # edge changes stay linear. As a set, the order of changes is moot.
        kept = [edge for edge in self.original if _edge_pair(edge) not in self.removed]
        present = {_edge_pair(edge) for edge in kept}
        for edge in self.added:
            pair = _edge_pair(edge)
            if pair not in present:
                present.add(pair)
                kept.append(edge)
        return kept


def apply_changes(old: dict | None, changes: list[dict]) -> dict:
    """Apply `changes` (as made by `diff_configs`) to a deep copy of `old`.

    `None` is `{}`. Node paths are read by id when `old`'s `nodes` is a node
    list, edge paths as pairs when `old`'s `edges` is an edge list (the same
    rule the diff used); everything else is a JSON Pointer. Changes are
    applied in list order; node moves rely on the diff's new-order emission.
    Added nodes cannot be put back at their exact index (an `add` carries
    none), so they land before the next node the changes mention, or last.
    Raises ValueError for a change that does not fit the config.
    """
    doc: Any = deepcopy(_as_config(old, "old"))
    nodes = _NodeReplay(doc["nodes"]) if _node_index(doc.get("nodes")) is not None else None
    edges = _EdgeReplay(doc["edges"]) if _edge_index(doc.get("edges")) is not None else None
    nodes_used = edges_used = False
    for change in changes:
        segments = _split(change.get("path"))  # type: ignore[arg-type]
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


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------

# Strings made only of these read unambiguously without quotes.
_WORD = re.compile(r"[\w.:@/+-]+")


def _word(text: str) -> str:
    """A string as shown: bare if it is a simple word, else JSON-quoted.

    Strings that would read as another JSON value (`true`, `null`, `5`) are
    quoted so `"5"` and `5` stay distinguishable.
    """
    if _WORD.fullmatch(text) and text not in ("true", "false", "null"):
        try:
            float(text)
        except ValueError:
            return text
    return json.dumps(text, ensure_ascii=False)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _show(value: Any, present: bool = True) -> str:
    """A value rendered compactly on one line; `(none)` for an absent side."""
    if not present:
        return "(none)"
    if isinstance(value, str):
        return _shorten(_word(value))
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text)


def _dotted(segments: list[str]) -> str:
    return ".".join(segments) if segments else "(root)"


def _node_title(node_id: str, node: Any) -> str:
    node_type = node.get("type") if isinstance(node, dict) else None
    title = _word(node_id)
    return f"{title} ({_word(node_type)})" if isinstance(node_type, str) else title


def _sides(change: dict) -> tuple[str, str]:
    return _show(change.get("old"), "old" in change), _show(change.get("new"), "new" in change)


class _Report:
    """Changes sorted into the groups the text view and summary use."""

    def __init__(self) -> None:  # a plain class: `diff` pays start-up, dataclasses cost ~3 ms
        self.node_lines: dict[str, list[tuple[str, str]]] = {}
        self.node_groups: dict[str, set[str]] = {}
        self.edge_lines: list[tuple[str, str]] = []
        self.edges_added = 0
        self.edges_removed = 0
        self.other_lines: list[tuple[str, str]] = []

    def node(self, node_id: str, group: str, kind: str, line: str) -> None:
        self.node_lines.setdefault(node_id, []).append((kind, line))
        self.node_groups.setdefault(node_id, set()).add(group)

    def edge(self, op: str, edge: dict) -> None:
        source, target = _edge_pair(edge)  # type: ignore[misc]
        if op == "add":
            self.edges_added += 1
            self.edge_lines.append(("add", f"+ edge {_word(source)} → {_word(target)}"))
        else:
            self.edges_removed += 1
            self.edge_lines.append(("remove", f"- edge {_word(source)} → {_word(target)}"))


def _report(changes: list[dict]) -> _Report:
    report = _Report()
    for change in changes:
        op = change.get("op")
        try:
            segments = _split(change.get("path"))  # type: ignore[arg-type]
        except ValueError:
            segments = [str(change.get("path"))]
        value = change.get("new" if op == "add" else "old")
        sign = "+" if op == "add" else "-"
        if segments == ["nodes"] and op in ("add", "remove") and _node_index(value):
            # A whole node list appearing (first publish) or going reads
            # best node by node.
            for node in value:
                report.node(node["id"], "added" if op == "add" else "removed", op,
                            f"{sign} node {_node_title(node['id'], node)}")
            continue
        if segments == ["edges"] and op in ("add", "remove") and _edge_index(value):
            for edge in _edge_index(value).values():  # type: ignore[union-attr]
                report.edge(op, edge)
            continue
        if len(segments) == 2 and segments[0] == "nodes":
            node_id = segments[1]
            if op == "move":
                report.node(node_id, "moved", "move",
                            f"~ node {_word(node_id)} moved {_show(change.get('old'))} → {_show(change.get('new'))}")
                continue
            if op in ("add", "remove") and isinstance(value, dict) and value.get("id") == node_id:
                report.node(node_id, "added" if op == "add" else "removed", op,
                            f"{sign} node {_node_title(node_id, value)}")
                continue
        if len(segments) >= 3 and segments[0] == "nodes":
            # Caveat: when neither side's `nodes` is a node list the diff is
            # positional and the segment is an index; the line still reads
            # `node 3`, which names the node at that position.
            old, new = _sides(change)
            report.node(segments[1], "changed", "change",
                        f"~ node {_word(segments[1])}: {_dotted(segments[2:])} {old} → {new}")
            continue
        if len(segments) == 2 and segments[0] == "edges" and op in ("add", "remove") and _edge_pair(value):
            report.edge(op, value)
            continue
        where = _dotted(segments)
        if op == "add":
            report.other_lines.append(("add", f"+ {where}: {_show(change.get('new'))}"))
        elif op == "remove":
            report.other_lines.append(("remove", f"- {where}: {_show(change.get('old'))}"))
        else:
            old, new = _sides(change)
            report.other_lines.append(("move" if op == "move" else "change", f"~ {where}: {old} → {new}"))
    return report


def _count(n: int, noun: str, verb: str = "") -> str:
    text = f"{n} {noun}{'' if n == 1 else 's'}"
    return f"{text} {verb}" if verb else text


def _summary(report: _Report) -> str:
    groups = list(report.node_groups.values())
    counts = [
        (sum("added" in g for g in groups), "node", "added"),
        (sum("removed" in g for g in groups), "node", "removed"),
        (sum("changed" in g for g in groups), "node", "changed"),
        (sum("moved" in g for g in groups), "node", "moved"),
        (report.edges_added, "edge", "added"),
        (report.edges_removed, "edge", "removed"),
        (len(report.other_lines), "other change", ""),
    ]
    total = sum(n for n, _, _ in counts)
    if not total:
        return "no changes"
    parts = ", ".join(_count(n, noun, verb) for n, noun, verb in counts if n)
    return f"{_count(total, 'change')}: {parts}"


def summary_line(changes: list[dict]) -> str:
    """One line such as `3 changes: 1 node added, 1 node changed, 1 edge removed`.

    Counts groups, not entries: a node with several field changes is one
    node changed; a node both moved and changed counts in both; edges and
    other changes count per entry. `no changes` for an empty list.
    """
    return _summary(_report(changes))


def text_lines(changes: list[dict]) -> list[tuple[str, str]]:
    """The changes as `(kind, line)` pairs for the text view.

    kind is one of add, remove, change, move, summary. Lines come grouped by
    node (in the order the changes first name each node), then edges, then
    other changes; the last pair is the summary line.
    """
    report = _report(changes)
    lines = [line for node_lines in report.node_lines.values() for line in node_lines]
    lines += report.edge_lines
    lines += report.other_lines
    lines.append(("summary", _summary(report)))
    return lines


# ---------------------------------------------------------------------------
# Unified and JSON
# ---------------------------------------------------------------------------


def _canonical(config: dict | None) -> str:
    return json.dumps({} if config is None else config, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def unified(old: dict | None, new: dict | None, from_label: str, to_label: str) -> str:
    """A unified diff of the canonical pretty JSON of both configs.

    Labels are used as-is for the `---`/`+++` headers (e.g.
    `credit-card-nba@v3`, `credit-card-nba@draft`). Returns "" when the two
    texts are equal. Being textual, it shows what the structural diff
    ignores by design (node order with edges, edge order, `1` vs `1.0`).
    """
    from difflib import unified_diff  # only this view needs it

    a, b = _canonical(old), _canonical(new)
    if a == b:
        return ""
    return "".join(
        unified_diff(
            a.splitlines(keepends=True),
            b.splitlines(keepends=True),
            fromfile=from_label,
            tofile=to_label,
        )
    )


def to_json(from_label: str, to_label: str, changes: list[dict]) -> dict:
    """The `diff --format json` document: `{"from", "to", "changes"}`."""
    return {"from": from_label, "to": to_label, "changes": list(changes)}

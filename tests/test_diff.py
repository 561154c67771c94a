"""Tests of flowctl.diff (the structural, node-aware config diff), its text
views in flowctl.diff_text and the JSON Pointers of flowctl.jsonpointer.

Completeness is proven by replay: tests/replay.py applies a change list
back, and the result must equal the new config."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowctl import diff as diff_module
from flowctl import diff_text, jsonpointer
from flowctl.diff import Change, Config, diff_configs, to_json
from flowctl.diff_text import summary_line, text_lines, unified
from replay import apply_changes

from conftest import examples

# ---------------------------------------------------------------------------
# "config equality": what apply_changes(A, diff_configs(A, B)) must match B by
# ---------------------------------------------------------------------------


def _strict_equal(a: Any, b: Any) -> bool:
    """JSON equality with bool kept apart from numbers (1 == 1.0, True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _node_map(nodes: Any) -> dict[str, Config] | None:
    if not isinstance(nodes, list) or not all(isinstance(n, dict) and isinstance(n.get("id"), str) for n in nodes):
        return None
    by_id = {n["id"]: n for n in nodes}
    return by_id if len(by_id) == len(nodes) else None


def _edge_set(edges: Any) -> set[tuple[str, str]] | None:
    if not isinstance(edges, list):
        return None
    pairs = set()
    for e in edges:
        if not (isinstance(e, dict) and isinstance(e.get("source"), str) and isinstance(e.get("target"), str)):
            return None
        pairs.add((e["source"], e["target"]))
    return pairs


def _normal(node: Config) -> Config:
    if "data" in node and "config" not in node:
        return {("config" if k == "data" else k): v for k, v in node.items()}
    return node


def _edgeless(config: Config) -> bool:
    return config.get("edges") is None or config.get("edges") == []


def config_equal(result: Config | None, expected: Config | None, original: Config | None) -> bool:
    """Config equality: nodes as an id map (data ~ config), edges as a set,
    and, when `expected` is edge-less, the relative order of the nodes common
    to `original` and `expected` as in `expected`; everything else exactly."""
    result, expected, original = result or {}, expected or {}, original or {}
    if result.keys() != expected.keys():
        return False
    for key, want in expected.items():
        got = result[key]
        got_nodes, want_nodes = (_node_map(got), _node_map(want)) if key == "nodes" else (None, None)
        got_edges, want_edges = (_edge_set(got), _edge_set(want)) if key == "edges" else (None, None)
        if got_nodes is not None and want_nodes is not None:
            if got_nodes.keys() != want_nodes.keys():
                return False
            if not all(_strict_equal(_normal(got_nodes[i]), _normal(want_nodes[i])) for i in want_nodes):
                return False
            if _edgeless(expected):
                common = set(_node_map(original.get("nodes")) or ()) & want_nodes.keys()
                if [n["id"] for n in got if n["id"] in common] != [n["id"] for n in want if n["id"] in common]:
                    return False
        elif got_edges is not None and want_edges is not None:
            if got_edges != want_edges:
                return False
        elif not _strict_equal(got, want):
            return False
    return True


def roundtrip_ok(a: Config | None, b: Config | None) -> bool:
    return config_equal(apply_changes(a, diff_configs(a, b)), b, a)


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def node(node_id: str, node_type: str = "score", **config: Any) -> Config:
    return {"id": node_id, "type": node_type, "config": dict(config)}


def edge(source: str, target: str, **extra: Any) -> Config:
    return {"source": source, "target": target, **extra}


def v2(nodes: list[Config], edges: list[Config] | None = None, **rest: Any) -> Config:
    config: Config = {"version": 2, "nodes": nodes}
    if edges is not None:
        config["edges"] = edges
    config.update(rest)
    return config


V1: Config = {
    "stages": {
        "enrichment": {"sources": ["bureau", "crm"]},
        "qualification": {"rules": [{"field": "age", "min": 18}]},
        "scoring": {"method": "propensity"},
        "ranking": {"topN": 3},
        "filtering": {"exclude": []},
    }
}


# ---------------------------------------------------------------------------
# Golden cases per op kind
# ---------------------------------------------------------------------------


def test_equal_configs_have_no_changes() -> None:
    """Identical configs (and None vs None, {} vs None) give an empty list."""
    config = v2([node("a"), node("b")], [edge("a", "b")], stages={"x": 1})
    assert diff_configs(config, copy.deepcopy(config)) == []
    assert diff_configs(None, None) == []
    assert diff_configs({}, None) == []


def test_none_vs_full_config_adds_and_removes_top_level_keys() -> None:
    """None is {}: a first publish is one add per top-level key (a whole
    node list is a plain add of /nodes), and the reverse is one remove each."""
    config = v2([node("a")], [], stages={"scoring": {"method": "m"}})
    assert diff_configs(None, config) == [
        {"op": "add", "path": "/nodes", "new": [node("a")]},
        {"op": "add", "path": "/edges", "new": []},
        {"op": "add", "path": "/stages", "new": {"scoring": {"method": "m"}}},
        {"op": "add", "path": "/version", "new": 2},
    ]
    assert diff_configs(config, None) == [
        {"op": "remove", "path": "/nodes", "old": [node("a")]},
        {"op": "remove", "path": "/edges", "old": []},
        {"op": "remove", "path": "/stages", "old": {"scoring": {"method": "m"}}},
        {"op": "remove", "path": "/version", "old": 2},
    ]


def test_non_dict_config_is_refused() -> None:
    """A config that is not a JSON object (or None) is a TypeError, not a guess."""
    with pytest.raises(TypeError):
        diff_configs([1], {})  # type: ignore[arg-type]


def test_node_added() -> None:
    """A node only in the new list is one add at /nodes/<id> carrying the node as given."""
    old = v2([node("a")], [])
    new = v2([node("a"), node("enrich-1", "enrich")], [])
    assert diff_configs(old, new) == [{"op": "add", "path": "/nodes/enrich-1", "new": node("enrich-1", "enrich")}]


def test_node_removed() -> None:
    """A node only in the old list is one remove at /nodes/<id> carrying the old node."""
    old = v2([node("a"), node("b", "rank")], [])
    new = v2([node("a")], [])
    assert diff_configs(old, new) == [{"op": "remove", "path": "/nodes/b", "old": node("b", "rank")}]


def test_nested_config_replace() -> None:
    """A changed config value is a replace at its full path below the node id."""
    old = v2([node("score-1", method="propensity")])
    new = v2([node("score-1", method="scorecard")])
    assert diff_configs(old, new) == [
        {"op": "replace", "path": "/nodes/score-1/config/method", "old": "propensity", "new": "scorecard"}
    ]


def test_nested_config_add_and_remove_keys() -> None:
    """Keys appearing or vanishing deep in a node config are add/remove, in sorted key order."""
    old = v2([{"id": "r", "type": "rank", "config": {"weights": {"a": 1, "b": 2}}}])
    new = v2([{"id": "r", "type": "rank", "config": {"weights": {"a": 1, "c": 3}}, "label": "R"}])
    assert diff_configs(old, new) == [
        {"op": "remove", "path": "/nodes/r/config/weights/b", "old": 2},
        {"op": "add", "path": "/nodes/r/config/weights/c", "new": 3},
        {"op": "add", "path": "/nodes/r/label", "new": "R"},
    ]


def test_type_change_is_one_replace() -> None:
    """A value whose JSON type changes (int→str, dict→list, bool↔number) is a
    single replace of that value, never a recursion into it."""
    old = {"a": 1, "b": {"x": 1}, "c": True, "d": 0, "e": None}
    new = {"a": "1", "b": [1], "c": 1, "d": False, "e": {}}
    assert diff_configs(old, new) == [
        {"op": "replace", "path": "/a", "old": 1, "new": "1"},
        {"op": "replace", "path": "/b", "old": {"x": 1}, "new": [1]},
        {"op": "replace", "path": "/c", "old": True, "new": 1},
        {"op": "replace", "path": "/d", "old": 0, "new": False},
        {"op": "replace", "path": "/e", "old": None, "new": {}},
    ]


def test_int_and_float_of_same_value_are_equal() -> None:
    """JSON has one number type: 1 vs 1.0 is no change, but 1 vs 1.5 is."""
    assert diff_configs({"n": 1, "m": [0]}, {"n": 1.0, "m": [-0.0]}) == []
    assert diff_configs({"n": 1}, {"n": 1.5}) == [{"op": "replace", "path": "/n", "old": 1, "new": 1.5}]


def test_lists_compared_by_position() -> None:
    """Generic lists: common indexes recurse, extra new items are adds in
    ascending order, missing ones removes in descending order (replayable)."""
    assert diff_configs({"l": [1, {"k": 1}, 3]}, {"l": [1, {"k": 2}, 3, 4, 5]}) == [
        {"op": "replace", "path": "/l/1/k", "old": 1, "new": 2},
        {"op": "add", "path": "/l/3", "new": 4},
        {"op": "add", "path": "/l/4", "new": 5},
    ]
    assert diff_configs({"l": [1, 2, 3, 4]}, {"l": [9, 2]}) == [
        {"op": "replace", "path": "/l/0", "old": 1, "new": 9},
        {"op": "remove", "path": "/l/3", "old": 4},
        {"op": "remove", "path": "/l/2", "old": 3},
    ]
    assert apply_changes({"l": [1, 2, 3, 4]}, diff_configs({"l": [1, 2, 3, 4]}, {"l": [9, 2]})) == {"l": [9, 2]}


def test_v1_stages_compared_recursively() -> None:
    """v1 configs have no nodes: stages diff key by key, lists by position."""
    new = copy.deepcopy(V1)
    new["stages"]["scoring"]["method"] = "scorecard"
    new["stages"]["ranking"]["topN"] = 5
    new["stages"]["enrichment"]["sources"].append("web")
    del new["stages"]["filtering"]
    assert diff_configs(V1, new) == [
        {"op": "add", "path": "/stages/enrichment/sources/2", "new": "web"},
        {"op": "remove", "path": "/stages/filtering", "old": {"exclude": []}},
        {"op": "replace", "path": "/stages/ranking/topN", "old": 3, "new": 5},
        {"op": "replace", "path": "/stages/scoring/method", "old": "propensity", "new": "scorecard"},
    ]
    assert roundtrip_ok(V1, new)


def test_v1_to_v2_migration() -> None:
    """Going from a v1 to a v2 config adds nodes/version and diffs stages as usual."""
    new = v2([node("s", method="propensity")], stages=copy.deepcopy(V1["stages"]))
    assert diff_configs(V1, new) == [
        {"op": "add", "path": "/nodes", "new": [node("s", method="propensity")]},
        {"op": "add", "path": "/version", "new": 2},
    ]


# ---------------------------------------------------------------------------
# data vs config
# ---------------------------------------------------------------------------


def test_data_is_compared_as_config() -> None:
    """Switching a node from `data` to `config` with equal content is no change;
    a real difference is reported under `config` whichever spelling each side used."""
    old = v2([{"id": "a", "type": "score", "data": {"method": "m"}}])
    assert diff_configs(old, v2([{"id": "a", "type": "score", "config": {"method": "m"}}])) == []
    new = v2([{"id": "a", "type": "score", "config": {"method": "n"}}])
    changes = diff_configs(old, new)
    assert changes == [{"op": "replace", "path": "/nodes/a/config/method", "old": "m", "new": "n"}]
    # apply keeps the node's own spelling
    assert apply_changes(old, changes)["nodes"] == [{"id": "a", "type": "score", "data": {"method": "n"}}]


def test_data_next_to_config_is_an_ordinary_key() -> None:
    """With both `data` and `config` on a node, `data` is just another key, and
    applying an add of it to a data-only node keeps both values."""
    old = v2([{"id": "a", "data": {"x": 1}}])
    new = v2([{"id": "a", "config": {"x": 1}, "data": {"y": 2}}])
    changes = diff_configs(old, new)
    assert changes == [{"op": "add", "path": "/nodes/a/data", "new": {"y": 2}}]
    assert apply_changes(old, changes)["nodes"] == [{"id": "a", "config": {"x": 1}, "data": {"y": 2}}]


# ---------------------------------------------------------------------------
# Edges
# ---------------------------------------------------------------------------


def test_edges_added_and_removed() -> None:
    """Edges are pairs: added in new order, then removed in old order, path
    /edges/<source>-><target>, the edge object as value."""
    old = v2([node("a"), node("b"), node("c")], [edge("a", "b"), edge("b", "c")])
    new = v2([node("a"), node("b"), node("c")], [edge("a", "c"), edge("a", "b")])
    assert diff_configs(old, new) == [
        {"op": "add", "path": "/edges/a->c", "new": edge("a", "c")},
        {"op": "remove", "path": "/edges/b->c", "old": edge("b", "c")},
    ]


def test_edge_order_duplicates_and_extra_keys_ignored() -> None:
    """Reordered edges, duplicated pairs and extra keys on edge objects are not changes."""
    old = v2([node("a"), node("b"), node("c")], [edge("a", "b"), edge("b", "c")])
    new = v2([node("a"), node("b"), node("c")], [edge("b", "c", label="x"), edge("a", "b"), edge("a", "b")])
    assert diff_configs(old, new) == []


def test_node_order_change_with_edges_is_not_a_move() -> None:
    """With edges the graph, not the list order, decides execution: no moves."""
    old = v2([node("a"), node("b")], [edge("a", "b")])
    new = v2([node("b"), node("a")], [edge("a", "b")])
    assert diff_configs(old, new) == []


def test_edges_key_appearing_is_a_plain_add() -> None:
    """An `edges` key present on one side only is a plain add/remove of /edges."""
    old = v2([node("a"), node("b")])
    new = v2([node("a"), node("b")], [edge("a", "b")])
    assert diff_configs(old, new) == [{"op": "add", "path": "/edges", "new": [edge("a", "b")]}]
    assert diff_configs(new, old) == [{"op": "remove", "path": "/edges", "old": [edge("a", "b")]}]


# ---------------------------------------------------------------------------
# Moves
# ---------------------------------------------------------------------------


def test_move_in_edgeless_pipeline() -> None:
    """Without edges a node changing place is a move with old/new indexes in the full lists."""
    old = v2([node("a"), node("b"), node("c"), node("rank", "rank")])
    new = v2([node("a"), node("rank", "rank"), node("b"), node("c")])
    assert diff_configs(old, new) == [{"op": "move", "path": "/nodes/rank", "old": 3, "new": 1}]


def test_empty_edges_list_still_allows_moves() -> None:
    """`edges: []` means list order too, so order changes are moves."""
    old = v2([node("a"), node("b")], [])
    new = v2([node("b"), node("a")], [])
    assert [c["op"] for c in diff_configs(old, new)] == ["move"]


def test_front_insertion_does_not_move_everything() -> None:
    """Inserting (or removing) at the front shifts every index, but relative order
    is unchanged, so only the add/remove is reported."""
    old = v2([node(x) for x in "abcdef"])
    new = v2([node("new")] + [node(x) for x in "abcdef"])
    assert diff_configs(old, new) == [{"op": "add", "path": "/nodes/new", "new": node("new")}]
    assert diff_configs(new, old) == [{"op": "remove", "path": "/nodes/new", "old": node("new")}]


def test_moves_are_minimal() -> None:
    """Only nodes outside a longest increasing run of old indexes are moved:
    moving the last node to the front is one move, not five."""
    old = v2([node(x) for x in "abcdef"])
    new = v2([node(x) for x in "fabcde"])
    assert diff_configs(old, new) == [{"op": "move", "path": "/nodes/f", "old": 5, "new": 0}]
    reversed_ = v2([node(x) for x in "fedcba"])
    assert sum(c["op"] == "move" for c in diff_configs(old, reversed_)) == 5


def test_moved_and_changed_node() -> None:
    """A node both moved and edited gets a move and its field changes, grouped
    together, and counts in both summary groups."""
    old = v2([node("a"), node("b", method="x")])
    new = v2([node("b", method="y"), node("a")])
    changes = diff_configs(old, new)
    assert changes == [
        {"op": "move", "path": "/nodes/b", "old": 1, "new": 0},
        {"op": "replace", "path": "/nodes/b/config/method", "old": "x", "new": "y"},
    ]
    assert summary_line(changes) == "2 changes: 1 node changed, 1 node moved"
    assert apply_changes(old, changes) == new


def test_move_with_added_and_removed_nodes_replays_order() -> None:
    """Moves among adds and removes replay to the new relative order of common nodes."""
    old = v2([node(x) for x in "abcde"])
    new = v2([node(x) for x in "xecyba"])
    changes = diff_configs(old, new)
    assert {c["op"] for c in changes} == {"add", "remove", "move"}
    assert roundtrip_ok(old, new)


# ---------------------------------------------------------------------------
# Ordering, escaping, fallbacks
# ---------------------------------------------------------------------------


def test_change_order_is_nodes_edges_then_sorted_keys() -> None:
    """Order: nodes in new order (adds and edits interleaved), removed nodes in
    old order, then edges, then other keys sorted."""
    old = {"zeta": 1, "alpha": 1, "nodes": [node("r1"), node("k", method="a"), node("r2")], "edges": []}
    new = {"alpha": 2, "zeta": 2, "edges": [edge("n2", "k")], "nodes": [node("n2"), node("k", method="b"), node("n1")]}
    assert [c["path"] for c in diff_configs(old, new)] == [
        "/nodes/n2",
        "/nodes/k/config/method",
        "/nodes/n1",
        "/nodes/r1",
        "/nodes/r2",
        "/edges/n2->k",
        "/alpha",
        "/zeta",
    ]


def test_pointer_escaping_of_ids_and_keys() -> None:
    """Ids and keys containing `/` and `~` are escaped per RFC 6901 (`~`→`~0`,
    `/`→`~1`) in node, edge and key paths, and apply reads them back."""
    old = v2([node("a/b", method="x"), node("c~d")], [], **{"m/n~": {"~1": 1}})
    new = v2([node("a/b", method="y"), node("c~d"), node("e~1/f")], [edge("a/b", "c~d")], **{"m/n~": {"~1": 2}})
    changes = diff_configs(old, new)
    assert [c["path"] for c in changes] == [
        "/nodes/a~1b/config/method",
        "/nodes/e~01~1f",
        "/edges/a~1b->c~0d",
        "/m~1n~0/~01",
    ]
    assert config_equal(apply_changes(old, changes), new, old)


def test_edge_pair_taken_from_object_not_path() -> None:
    """Ids containing `->` make the edge path ambiguous; apply uses the edge object."""
    old = v2([node("a->b"), node("c"), node("a"), node("b->c")], [])
    new = copy.deepcopy(old)
    new["edges"] = [edge("a->b", "c")]
    changes = diff_configs(old, new)
    assert changes == [{"op": "add", "path": "/edges/a->b->c", "new": edge("a->b", "c")}]
    assert apply_changes(old, changes)["edges"] == [edge("a->b", "c")]


def test_duplicate_ids_fall_back_to_positional_diff() -> None:
    """A nodes list that is not a list of uniquely-id'd dicts on both sides is compared generically."""
    old = {"nodes": [{"id": "a", "v": 1}, {"id": "a", "v": 2}]}
    new = {"nodes": [{"id": "a", "v": 1}, {"id": "a", "v": 3}]}
    assert diff_configs(old, new) == [{"op": "replace", "path": "/nodes/1/v", "old": 2, "new": 3}]
    assert apply_changes(old, diff_configs(old, new)) == new


def test_node_list_vs_non_node_list_is_one_replace() -> None:
    """When only one side is a node list, /nodes is replaced whole (positional
    paths would be confused with id paths)."""
    old = {"nodes": [{"id": "0"}]}
    new = {"nodes": [{"name": "0"}]}
    assert diff_configs(old, new) == [{"op": "replace", "path": "/nodes", "old": old["nodes"], "new": new["nodes"]}]
    assert apply_changes(old, diff_configs(old, new)) == new
    assert apply_changes(new, diff_configs(new, old)) == old


# ---------------------------------------------------------------------------
# Summary and text
# ---------------------------------------------------------------------------


def test_summary_line_wording() -> None:
    """`no changes`, `1 change: …` singular, plurals per group, groups in fixed order."""
    assert summary_line([]) == "no changes"
    assert summary_line([{"op": "replace", "path": "/stages/x", "old": 1, "new": 2}]) == "1 change: 1 other change"
    old = v2([node("qualify-1", "qualify"), node("score-1", method="propensity")], [edge("qualify-1", "score-1")])
    new = v2([node("enrich-1", "enrich"), node("qualify-1", "qualify"), node("score-1", method="scorecard")], [])
    assert summary_line(diff_configs(old, new)) == "3 changes: 1 node added, 1 node changed, 1 edge removed"


def test_summary_counts_groups_not_entries() -> None:
    """A node with several field edits is one node changed; other changes count per entry."""
    old = v2([node("a", x=1, y=1), node("b"), node("c")], [], stages={"p": 1, "q": 1})
    new = v2([node("a", x=2, y=2), node("d"), node("e")], [edge("a", "d"), edge("a", "e")], stages={"p": 2, "q": 2})
    assert summary_line(diff_configs(old, new)) == (
        "9 changes: 2 nodes added, 2 nodes removed, 1 node changed, 2 edges added, 2 other changes"
    )


def test_text_lines_grouping_and_format() -> None:
    """Lines are grouped by node (new order, removed last), then edges, then
    other changes, then the summary, with the documented wording."""
    old = v2(
        [node("qualify-1", "qualify"), node("score-1", method="propensity"), node("old-1", "filter")],
        [edge("qualify-1", "score-1")],
        stages={"scoring": {"method": "a"}},
    )
    new = v2(
        [node("enrich-1", "enrich"), node("qualify-1", "qualify"), node("score-1", method="scorecard", topN=5)],
        [edge("enrich-1", "qualify-1")],
        stages={"scoring": {"method": "b"}, "ranking": {"topN": 3}},
    )
    assert text_lines(diff_configs(old, new)) == [
        ("add", "+ node enrich-1 (enrich)"),
        ("change", "~ node score-1: config.method propensity → scorecard"),
        ("change", "~ node score-1: config.topN (none) → 5"),
        ("remove", "- node old-1 (filter)"),
        ("add", "+ edge enrich-1 → qualify-1"),
        ("remove", "- edge qualify-1 → score-1"),
        ("add", '+ stages.ranking: {"topN": 3}'),
        ("change", "~ stages.scoring.method: a → b"),
        (
            "summary",
            "7 changes: 1 node added, 1 node removed, 1 node changed, 1 edge added, 1 edge removed, 2 other changes",
        ),
    ]


def test_text_lines_move_and_no_changes() -> None:
    """A move reads `~ node X moved i → j`; no changes is just the summary."""
    old = v2([node("a"), node("b"), node("rank", "rank")])
    new = v2([node("rank", "rank"), node("a"), node("b")])
    assert text_lines(diff_configs(old, new)) == [
        ("move", "~ node rank moved 2 → 0"),
        ("summary", "1 change: 1 node moved"),
    ]
    assert text_lines([]) == [("summary", "no changes")]


def test_text_lines_first_publish_lists_nodes_and_edges() -> None:
    """Diffing from no config shows each node and edge of the new list, not one blob."""
    new = v2([node("a", "enrich"), node("b")], [edge("a", "b")])
    assert text_lines(diff_configs(None, new)) == [
        ("add", "+ node a (enrich)"),
        ("add", "+ node b (score)"),
        ("add", "+ edge a → b"),
        ("add", "+ version: 2"),
        ("summary", "4 changes: 2 nodes added, 1 edge added, 1 other change"),
    ]


def test_text_value_rendering() -> None:
    """Simple words are bare; strings that need it (spaces, look like numbers or
    keywords) are JSON-quoted; absent sides read (none); long values end in …."""
    changes: list[Change] = [
        {"op": "replace", "path": "/a", "old": "two words", "new": "5"},
        {"op": "replace", "path": "/b", "old": "true", "new": True},
        {"op": "remove", "path": "/c", "old": None},
        {"op": "add", "path": "/d", "new": "x" * 100},
    ]
    lines = [line for _, line in text_lines(changes)]
    assert lines[0] == '~ a: "two words" → "5"'
    assert lines[1] == '~ b: "true" → true'
    assert lines[2] == "- c: null"
    assert lines[3] == "+ d: " + "x" * 59 + "…"
    node_add = [{"op": "add", "path": "/nodes/a/config/x", "new": 1}]
    assert text_lines(node_add)[0] == ("change", "~ node a: config.x (none) → 1")


# ---------------------------------------------------------------------------
# Unified and JSON
# ---------------------------------------------------------------------------


def test_unified_labels_and_canonical_form() -> None:
    """The unified view diffs canonical pretty JSON under the given labels."""
    old = {"stages": {"scoring": {"method": "a"}}}
    new = {"stages": {"scoring": {"method": "b"}}}
    text = unified(old, new, "credit-card-nba@v3", "credit-card-nba@draft")
    lines = text.splitlines()
    assert lines[0] == "--- credit-card-nba@v3"
    assert lines[1] == "+++ credit-card-nba@draft"
    assert '-      "method": "a"' in lines
    assert '+      "method": "b"' in lines
    assert text.endswith("\n")


def test_unified_empty_when_equal_and_none_is_empty_object() -> None:
    """Equal canonical forms give "" (key order does not matter); None renders as {}."""
    assert unified({"a": 1, "b": 2}, {"b": 2, "a": 1}, "x@v1", "x@draft") == ""
    assert unified(None, {}, "x@v1", "x@draft") == ""
    assert "+  \"a\": 1" in unified(None, {"a": 1}, "x@v1", "x@draft")


def test_to_json_shape() -> None:
    """The JSON document is {"from", "to", "changes"} and serialises as-is."""
    changes = diff_configs({"a": 1}, {"a": 2})
    doc = to_json("v3", "draft", changes)
    assert doc == {"from": "v3", "to": "draft", "changes": [{"op": "replace", "path": "/a", "old": 1, "new": 2}]}
    assert json.loads(json.dumps(doc)) == doc


# ---------------------------------------------------------------------------
# apply_changes
# ---------------------------------------------------------------------------


def test_apply_does_not_mutate_inputs() -> None:
    """apply_changes works on a deep copy and does not alias change values."""
    old = v2([node("a", method="x")], [])
    new = v2([node("a", method="y"), node("b", w=[1])], [])
    snapshot = copy.deepcopy(old)
    changes = diff_configs(old, new)
    result = apply_changes(old, changes)
    assert old == snapshot
    result["nodes"][1]["config"]["w"].append(2)
    assert new["nodes"][1]["config"]["w"] == [1]


def test_apply_rejects_changes_that_do_not_fit() -> None:
    """Changes naming missing paths, nodes or unknown ops raise ValueError."""
    with pytest.raises(ValueError):
        apply_changes({}, [{"op": "remove", "path": "/x", "old": 1}])
    with pytest.raises(ValueError):
        apply_changes(v2([node("a")]), [{"op": "move", "path": "/nodes/zz", "old": 0, "new": 1}])
    with pytest.raises(ValueError):
        apply_changes({"a": 1}, [{"op": "copy", "path": "/a"}])
    with pytest.raises(ValueError):
        apply_changes({"a": 1}, [{"op": "replace", "path": "a", "new": 2}])


def test_added_node_positions_are_not_recoverable() -> None:
    """Why config equality ignores where added nodes land: an `add` carries no
    index, and unchanged nodes produce no change at all, so two new configs
    that differ only in where a node was inserted among unchanged nodes give
    the very same change list. apply_changes therefore guarantees the set of
    nodes and the relative order of the nodes common to both sides, and puts
    an added node before the next node the changes mention (else last)."""
    old = v2([node("a"), node("b")])
    early = v2([node("a"), node("x"), node("b")])
    late = v2([node("a"), node("b"), node("x")])
    assert diff_configs(old, early) == diff_configs(old, late)
    assert apply_changes(old, diff_configs(old, late)) == late


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

IDS = ["a", "b", "c", "d", "e/f", "g~h"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-2, 2)
    | st.sampled_from([0.0, 1.0, 1.5, -0.0])
    | st.sampled_from(["x", "y", "propensity", "a/b"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["k", "m", "config", "data", "id", "a/b", "~"]), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.sampled_from(["k", "m", "x/y", "~0"]), json_values, max_size=3)


@st.composite
def nodes_for(draw: st.DrawFn, node_id: str) -> Config:
    result: Config = {"id": node_id}
    if draw(st.booleans()):
        result["type"] = draw(st.sampled_from(["score", "rank"]))
    spelling = draw(st.sampled_from(["config", "data", "both", "none"]))
    if spelling in ("config", "both"):
        result["config"] = draw(json_objects)
    if spelling in ("data", "both"):
        result["data"] = draw(json_objects)
    if draw(st.booleans()):
        result["label"] = draw(scalars)
    return result


@st.composite
def v2_configs(draw: st.DrawFn) -> Config:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=len(IDS)))
    config: Config = {"version": 2, "nodes": [draw(nodes_for(i)) for i in ids]}
    edges_kind = draw(st.sampled_from(["absent", "empty", "some"]))
    if edges_kind == "empty":
        config["edges"] = []
    elif edges_kind == "some":
        ends = st.sampled_from(IDS)
        config["edges"] = draw(
            st.lists(
                st.builds(lambda s, t, extra: {"source": s, "target": t, **extra}, ends, ends,
                          st.sampled_from([{}, {"label": "x"}])),
                max_size=5,
            )
        )
    if draw(st.booleans()):
        config["stages"] = draw(json_objects)
    return config


generic_configs = st.dictionaries(
    st.sampled_from(["nodes", "edges", "stages", "version", "x"]), json_values, max_size=4
)
any_config = st.none() | v2_configs() | generic_configs


@pytest.mark.fuzz
@settings(max_examples=examples(400), suppress_health_check=[HealthCheck.too_slow])
@given(v2_configs(), v2_configs())
def test_apply_roundtrip_v2(a: Config, b: Config) -> None:
    """For random v2 configs, apply_changes(A, diff(A, B)) equals B under config
    equality; diffing the result against B leaves at most moves (the unknown
    positions of added nodes), and nothing at all when B has edges."""
    result = apply_changes(a, diff_configs(a, b))
    assert config_equal(result, b, a)
    rest = diff_configs(result, b)
    if _edgeless(b):
        assert all(c["op"] == "move" for c in rest)
    else:
        assert rest == []


@pytest.mark.fuzz
@settings(max_examples=examples(300))
@given(any_config, any_config)
def test_apply_roundtrip_any(a: Config | None, b: Config | None) -> None:
    """The round trip also holds for generic JSON objects, None and mixed shapes
    (non-node lists under `nodes`, non-edge lists under `edges`)."""
    assert roundtrip_ok(a, b)


@pytest.mark.fuzz
@settings(max_examples=examples(200))
@given(v2_configs(), st.randoms(use_true_random=False))
def test_shuffled_edgeless_moves_replay(a: Config, rnd: Any) -> None:
    """Pure reorders of an edge-less pipeline replay to exactly the new order,
    and the number of moves is the minimum (nodes outside the longest kept run)."""
    a = {k: v for k, v in a.items() if k != "edges"}
    b = copy.deepcopy(a)
    rnd.shuffle(b["nodes"])
    changes = diff_configs(a, b)
    assert [n["id"] for n in apply_changes(a, changes)["nodes"]] == [n["id"] for n in b["nodes"]]
    old_pos = {n["id"]: i for i, n in enumerate(a["nodes"])}
    seq = [old_pos[n["id"]] for n in b["nodes"]]
    # quadratic LIS length, as an independent check on tiny inputs
    best = [1] * len(seq)
    for i in range(len(seq)):
        for j in range(i):
            if seq[j] < seq[i]:
                best[i] = max(best[i], best[j] + 1)
    assert sum(c["op"] == "move" for c in changes) == len(seq) - max(best, default=0)


# ---------------------------------------------------------------------------
# Size
# ---------------------------------------------------------------------------


def _big(n: int) -> list[Config]:
    return [{"id": f"n{i:04d}", "type": "score", "config": {"method": "propensity", "weight": i}} for i in range(n)]


def test_large_graph_configs() -> None:
    """Two 5,000-node configs with edges and sprinkled edits diff to exactly the
    expected changes (dict-keyed matching keeps this fast)."""
    nodes = _big(5000)
    old = v2(nodes, [edge(f"n{i:04d}", f"n{i + 1:04d}") for i in range(4999)])
    new = copy.deepcopy(old)
    for i in range(0, 5000, 500):  # 10 edited nodes
        new["nodes"][i]["config"]["method"] = "scorecard"
    gone = {f"n{i:04d}" for i in (999, 1999, 2999, 3999, 4999)}  # 5 removed nodes, 9 edges
    new["nodes"] = [n for n in new["nodes"] if n["id"] not in gone]
    new["edges"] = [e for e in new["edges"] if e["source"] not in gone and e["target"] not in gone]
    for k in range(5):  # 5 added nodes, 5 added edges
        new["nodes"].append({"id": f"new{k}", "type": "enrich"})
        new["edges"].append(edge(f"new{k}", "n0000"))
    new["edges"].reverse()  # order is not a change
    changes = diff_configs(old, new)
    assert len(changes) == 10 + 5 + 9 + 5 + 5
    assert summary_line(changes) == (
        "34 changes: 5 nodes added, 5 nodes removed, 10 nodes changed, 5 edges added, 9 edges removed"
    )
    assert config_equal(apply_changes(old, changes), new, old)


def test_large_edgeless_configs() -> None:
    """Two 5,000-node edge-less configs: moving the last node first and the first
    last, inserting 3 nodes mid-list and editing 7 gives 2 moves, not thousands."""
    old = v2(_big(5000))
    new = copy.deepcopy(old)
    nodes = new["nodes"]
    nodes.insert(0, nodes.pop())
    nodes.append(nodes.pop(1))
    nodes[2500:2500] = [{"id": f"mid{k}", "type": "rank"} for k in range(3)]
    for i in range(100, 800, 100):
        nodes[i]["config"]["weight"] = -1
    changes = diff_configs(old, new)
    assert sorted(c["op"] for c in changes).count("move") == 2
    assert len(changes) == 2 + 3 + 7
    assert config_equal(apply_changes(old, changes), new, old)


# ---------------------------------------------------------------------------
# JSON Pointers and the pointer engine the replay shares with --set/--unset
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "a", "a/b", "~", "~0", "~1", "/~/", "~01"])
def test_pointer_tokens_round_trip(token: str) -> None:
    """escape/unescape are inverse (RFC 6901: `~0` is `~`, `~1` is `/`, in that order)."""
    assert jsonpointer.unescape(jsonpointer.escape(token)) == token
    assert jsonpointer.split(jsonpointer.join("", token)) == [token]
    assert jsonpointer.split(jsonpointer.join("/nodes", token)) == ["nodes", token]


def test_pointer_split_refuses_non_pointers() -> None:
    """`""` is the root; anything not starting with `/`, or not a string, is ValueError."""
    assert jsonpointer.split("") == []
    assert jsonpointer.split("/") == [""]
    assert jsonpointer.split("/a~1b/~0") == ["a/b", "~"]
    for bad in ("a", "nodes/x", None, 3):
        with pytest.raises(ValueError):
            jsonpointer.split(bad)


def test_edge_segment_is_what_diff_writes_and_set_reads() -> None:
    """diff names an edge `source->target`; the same token, escaped, is its path."""
    changes = diff_configs(v2([node("a/b"), node("c")], []), v2([node("a/b"), node("c")], [edge("a/b", "c")]))
    assert changes == [{"op": "add", "path": "/edges/" + jsonpointer.escape(jsonpointer.edge_segment("a/b", "c")),
                        "new": edge("a/b", "c")}]
    assert changes[0]["path"] == "/edges/a~1b->c"


def test_engine_ops_with_rfc_6902_meanings() -> None:
    """`insert` (RFC 6902 add) inserts up to the list's end; `replace` and `set`
    replace an item, only `set` and `insert` append at `-`; unkeyed, /nodes is
    positional. Failures raise the error type the caller gives."""
    from flowctl.pointers import edit_at

    doc: Config = {"l": [1, 2], "nodes": [{"id": "a"}]}
    edit_at(doc, ["l", "0"], "insert", 0, label="t", keyed=False, error=ValueError)
    edit_at(doc, ["l", "3"], "insert", 3, label="t", keyed=False, error=ValueError)
    edit_at(doc, ["l", "-"], "insert", 4, label="t", keyed=False, error=ValueError)
    edit_at(doc, ["l", "1"], "replace", 9, label="t", keyed=False, error=ValueError)
    edit_at(doc, ["nodes", "0", "id"], "replace", "b", label="t", keyed=False, error=ValueError)
    assert doc == {"l": [0, 9, 2, 3, 4], "nodes": [{"id": "b"}]}
    for segments, op in ((["l", "6"], "insert"), (["l", "5"], "replace"), (["l", "-"], "replace"),
                         (["l", "-"], "unset"), (["x"], "unset"), (["l", "0", "y"], "set")):
        with pytest.raises(ValueError):
            edit_at(doc, segments, op, 1, label="t", keyed=False, error=ValueError)  # type: ignore[arg-type]
    assert doc == {"l": [0, 9, 2, 3, 4], "nodes": [{"id": "b"}]}


# ---------------------------------------------------------------------------
# Module hygiene
# ---------------------------------------------------------------------------


PURE = (diff_module, diff_text, jsonpointer)


@pytest.mark.parametrize("module", PURE, ids=lambda m: m.__name__)
def test_module_imports_stdlib_only(module: Any) -> None:
    """diff and its text view stay pure, so `diff` pays little start-up: no rich
    or pydantic, nothing outside the stdlib but each other."""
    import sys

    siblings = {m.__name__.rpartition(".")[2] for m in PURE}
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    modules: set[str] = set()
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in item.names)
        elif isinstance(item, ast.ImportFrom) and item.level:
            assert item.module in siblings, f"{module.__name__} imports .{item.module}"
        elif isinstance(item, ast.ImportFrom) and item.module:
            modules.add(item.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}

"""Unit tests for flowctl.pipeline: detection, validation, scoring method, drafts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from flowctl.errors import BadInput, FlowctlError, InvalidConfig, Problem
from flowctl.kinds import decision_flow as pipeline

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def node(id_: str, type_: str, **settings: object) -> dict[str, Any]:
    return {"id": id_, "type": type_, "config": dict(settings)}


def v2(*nodes: object, edges: object | None = None, **extra: object) -> dict[str, Any]:
    config: dict[str, Any] = {"version": 2, "nodes": list(nodes)}
    if edges is not None:
        config["edges"] = edges
    config.update(extra)
    return config


def edge(source: str, target: str) -> dict[str, Any]:
    return {"source": source, "target": target}


def problems_of(config: object, kind: type[FlowctlError]) -> list[str]:
    with pytest.raises(FlowctlError) as info:
        pipeline.validate(config)
    assert type(info.value) is kind, [str(p) for p in info.value.problems]
    return [str(p) for p in info.value.problems]


def paths_of(config: object, kind: type[FlowctlError]) -> list[str]:
    with pytest.raises(kind) as info:
        pipeline.validate(config)
    assert type(info.value) is kind
    return [p.path for p in info.value.problems]


VALID_V2 = v2(
    node("source", "candidate_source"),
    node("enrich", "enrich"),
    node("qualify", "qualify"),
    node("filter", "filter"),
    node("score", "score", method="weighted"),
    node("rank", "rank", topN=3, limit=10),
    node("output", "output"),
    edges=[edge("source", "enrich"), edge("enrich", "qualify")],
    stages={"anything": [1, 2], "scoring": {"method": "fallback", "weights": {}}},
)

VALID_V1 = {
    "stages": {
        "enrichment": {"sources": ["a"]},
        "qualification": {},
        "scoring": {"method": "rules"},
        "ranking": {"topN": 3},
        "filtering": {},
    }
}


# --------------------------------------------------------------------------
# format detection
# --------------------------------------------------------------------------


def test_version_2_is_v2() -> None:
    """`"version": 2` means v2 even without a nodes list, so the missing list is reported as a v2
    schema error rather than the config being read as v1."""
    assert pipeline.config_format({"version": 2, "nodes": []}) == 2
    # Detection follows the version even when nodes is missing (a schema error).
    assert pipeline.config_format({"version": 2}) == 2


def test_nodes_list_without_version_is_v2() -> None:
    """A `nodes` list alone makes a config v2 (no version needed), and such a config validates."""
    config = {"nodes": [node("a", "score", method="m")]}
    assert pipeline.config_format(config) == 2
    pipeline.validate(config)


def test_nodes_win_over_stages() -> None:
    """A config with both `nodes` and `stages` is v2: the stages are metadata, not a v1 pipeline."""
    config = {"nodes": [node("a", "score")], "stages": {"scoring": {"method": "m"}}}
    assert pipeline.config_format(config) == 2
    pipeline.validate(config)


def test_stages_only_is_v1() -> None:
    """A `stages` object without `nodes` (with or without `"version": 1`) is v1 and validates."""
    assert pipeline.config_format(VALID_V1) == 1
    assert pipeline.config_format({"version": 1, "stages": {}}) == 1
    pipeline.validate(VALID_V1)


def test_bool_version_is_not_a_version() -> None:
    """`"version": true` is not read as version 1 (True == 1 in Python): it is a schema error on `version`."""
    # True == 1 in Python; it must not read as version 1.
    assert pipeline.config_format({"version": True, "nodes": []}) == 2
    assert paths_of({"version": True, "stages": {}}, BadInput) == ["version"]


def test_valid_v2_passes() -> None:
    """A v2 config using every node type, edges and free-form stages metadata validates without error."""
    pipeline.validate(VALID_V2)


# --------------------------------------------------------------------------
# schema errors -> BadInput (exit 2)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("config", [[], "x", 3, None, True, [{"nodes": []}]])
def test_non_object_is_schema_error_at_root(config: object) -> None:
    """A config that is not a JSON object is one schema error (exit 2) at path `$`, quoting the value."""
    with pytest.raises(BadInput) as info:
        pipeline.validate(config)
    assert info.value.exit_code == 2
    [problem] = info.value.problems
    assert problem.path == pipeline.ROOT_PATH == "$"
    assert json.dumps(config) in problem.message


def test_neither_nodes_nor_stages() -> None:
    """An object with neither `nodes` nor `stages` is a schema error at `$` naming both accepted shapes."""
    assert problems_of({"name": "x"}, BadInput) == [
        '$: must have a "nodes" list (v2 pipeline) or a "stages" object (v1 pipeline)'
    ]


def test_neither_with_bad_version_lists_both() -> None:
    """An unknown version with neither nodes nor stages reports both the root and `version` problems."""
    assert paths_of({"version": 3}, BadInput) == ["$", "version"]


def test_version_2_without_nodes() -> None:
    """`"version": 2` without `nodes` reports exactly `nodes: field required`."""
    assert problems_of({"version": 2}, BadInput) == ["nodes: field required"]


def test_version_2_with_stages_but_no_nodes() -> None:
    """`"version": 2` with only `stages` is still v2: the missing `nodes` is the error, not a v1 read."""
    assert paths_of({"version": 2, "stages": {"scoring": {}}}, BadInput) == ["nodes"]


def test_version_1_with_nodes() -> None:
    """`"version": 1` with a `nodes` list is refused on `version` (a nodes pipeline must be version 2)."""
    assert problems_of({"version": 1, "nodes": []}, BadInput) == [
        'version: must be 2 for a pipeline with "nodes" (1)'
    ]


def test_version_1_without_stages() -> None:
    """`"version": 1` without `stages` reports exactly `stages: field required`."""
    assert problems_of({"version": 1}, BadInput) == ["stages: field required"]


@pytest.mark.parametrize("version", [3, "2", 2.0, None, 0])
def test_bad_version_with_stages(version: object) -> None:
    """Any version other than the integers 1 and 2 ("2", 2.0, 3, 0, null) is a schema error on `version`."""
    assert paths_of({"version": version, "stages": {}}, BadInput) == ["version"]


def test_nodes_not_a_list() -> None:
    """A `nodes` value that is not a list is a schema error quoting the value."""
    assert problems_of({"nodes": {"a": {}}}, BadInput) == ['nodes: must be a list ({"a": {}})']


def test_node_missing_id_and_type() -> None:
    """A node without `id` and `type` gets one `field required` problem for each, in that order."""
    assert problems_of(v2({"config": {}}), BadInput) == [
        "nodes[0].id: field required",
        "nodes[0].type: field required",
    ]


def test_node_not_an_object() -> None:
    """A node that is not an object is a schema error at its index, quoting the value."""
    assert problems_of(v2(node("a", "score"), "b"), BadInput) == ['nodes[1]: must be an object ("b")']


def test_node_wrong_types() -> None:
    """A non-string node `id` or `type` is a schema error on each field, quoting the value."""
    assert problems_of(v2({"id": 7, "type": ["score"]}), BadInput) == [
        "nodes[0].id: must be a string (7)",
        'nodes[0].type: must be a string (["score"])',
    ]


@pytest.mark.parametrize("key", ["config", "data"])
@pytest.mark.parametrize("value", [[], "x", None, 1])
def test_node_settings_not_an_object(key: str, value: object) -> None:
    """A node's `config` or `data` that is not an object is a schema error at that key, quoting the value."""
    config = v2({"id": "a", "type": "qualify", key: value})
    assert problems_of(config, BadInput) == [f"nodes[0].{key}: must be an object ({json.dumps(value)})"]


def test_node_with_both_config_and_data() -> None:
    """A node with both `config` and `data` (synonyms) is a schema error on the node itself."""
    config = v2({"id": "a", "type": "qualify", "config": {}, "data": {}})
    assert paths_of(config, BadInput) == ["nodes[0]"]


def test_node_extra_keys_allowed() -> None:
    """Extra node keys (editor metadata such as `label`, `position`) are accepted, not schema errors."""
    pipeline.validate(v2({"id": "a", "type": "qualify", "label": "Q", "position": {"x": 1}}))


def test_node_without_settings_allowed() -> None:
    """A node with neither `config` nor `data` is valid: settings are optional."""
    pipeline.validate(v2({"id": "a", "type": "output"}))


@pytest.mark.parametrize("method", [5, None, ["a"], {"name": "a"}, True])
def test_score_method_not_a_string(method: object) -> None:
    """A score node's `config.method` that is not a string is a schema error quoting the value."""
    config = v2(node("s", "score", method=method))
    assert problems_of(config, BadInput) == [f"nodes[0].config.method: must be a string ({json.dumps(method)})"]


def test_score_method_not_a_string_in_data() -> None:
    """A non-string `method` under the `data` synonym is reported at the `data.method` path."""
    config = v2({"id": "s", "type": "score", "data": {"method": 1}})
    assert paths_of(config, BadInput) == ["nodes[0].data.method"]


def test_method_on_non_score_node_is_free_form() -> None:
    """`method` is only typed on score nodes: a non-string method on a qualify node is accepted."""
    # Only the score node's method is read, so only that one is typed.
    pipeline.validate(v2(node("q", "qualify", method=5)))


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"source": "a"}, ["edges: must be a list"]),
        (["a->b"], ["edges[0]: must be an object"]),
        ([{"source": "a"}], ["edges[0].target: field required"]),
        ([{"source": 1, "target": "a"}], ["edges[0].source: must be a string (1)"]),
    ],
)
def test_edge_schema_errors(edges: object, expected: list[str]) -> None:
    """Malformed edges (not a list, an edge not an object, a missing or non-string end) are schema
    errors at the edge's path."""
    found = problems_of(v2(node("a", "qualify"), edges=edges), BadInput)
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=False):
        assert got.startswith(want)


def test_edge_extra_keys_allowed() -> None:
    """Extra keys on an edge (such as `label`) are accepted, not schema errors."""
    pipeline.validate(v2(node("a", "qualify"), node("b", "score"), edges=[{**edge("a", "b"), "label": "x"}]))


def test_v2_stages_must_be_an_object() -> None:
    """In a v2 config, `stages` must still be an object: a list is a schema error on `stages`."""
    assert paths_of(v2(node("a", "qualify"), stages=[1]), BadInput) == ["stages"]


def test_v2_stages_free_form_metadata_allowed() -> None:
    """In a v2 config, `stages` is free-form metadata: unknown names and non-object values are accepted."""
    pipeline.validate(v2(node("a", "qualify"), stages={"custom": 1, "enrichment": "yes"}))


def test_v2_stages_scoring_method_must_be_a_string() -> None:
    """In v2, `stages.scoring.method` is typed like in v1 (it is the fallback scoring method): a
    number is a schema error."""
    # It is the fallback scoring method, so it is typed like in v1.
    assert paths_of(v2(node("a", "qualify"), stages={"scoring": {"method": 3}}), BadInput) == [
        "stages.scoring.method"
    ]


def test_v1_stages_not_an_object() -> None:
    """A v1 `stages` that is not an object is a schema error quoting the value."""
    assert problems_of({"stages": ["scoring"]}, BadInput) == ['stages: must be an object (["scoring"])']


def test_v1_unknown_stage_lists_allowed_names() -> None:
    """A v1 config with an unknown stage is a schema error that names every allowed stage,
    not silently ignored."""
    [message] = problems_of({"stages": {"scorng": {"method": "x"}}}, BadInput)
    assert message.startswith('stages.scorng: unknown stage "scorng"')
    for name in pipeline.V1_STAGES:
        assert name in message


def test_v1_stage_not_an_object() -> None:
    """A v1 stage whose value is not an object is a schema error at that stage, quoting the value."""
    assert problems_of({"stages": {"ranking": 5}}, BadInput) == ["stages.ranking: must be an object (5)"]


def test_v1_scoring_method_not_a_string() -> None:
    """A non-string v1 `stages.scoring.method` is a schema error quoting the value."""
    assert problems_of({"stages": {"scoring": {"method": 1.5}}}, BadInput) == [
        "stages.scoring.method: must be a string (1.5)"
    ]


def test_v1_extra_top_level_keys_allowed() -> None:
    """Extra top-level keys next to v1 `stages` (name, meta) are accepted."""
    pipeline.validate({"stages": {}, "name": "flow", "meta": {"a": 1}})


def test_odd_keys_are_quoted_in_paths() -> None:
    """A key that is not an identifier appears quoted in the problem path (`stages["my stage"]`)."""
    [problem] = paths_of({"stages": {"my stage": {}}}, BadInput)
    assert problem == 'stages["my stage"]'


def test_long_offending_value_is_shortened() -> None:
    """A long offending value is cut short with `...` so the problem line stays under 120 characters."""
    [message] = problems_of({"nodes": "x" * 500}, BadInput)
    assert len(message) < 120
    assert message.endswith("...)")


# --------------------------------------------------------------------------
# structural errors -> InvalidConfig (exit 5)
# --------------------------------------------------------------------------


def test_duplicate_node_id() -> None:
    """A repeated node id is a structural error (InvalidConfig, exit 5) on the later node, naming
    where the id was first used."""
    config = v2(node("a", "qualify"), node("b", "qualify"), node("score", "score"), node("c", "qualify"),
                node("score", "score"))
    with pytest.raises(InvalidConfig) as info:
        pipeline.validate(config)
    assert info.value.exit_code == 5
    assert [str(p) for p in info.value.problems] == [
        'nodes[4].id: duplicate node id "score" (first at nodes[2])'
    ]


def test_empty_node_id() -> None:
    """An empty node id is a structural error (exit 5), not accepted."""
    assert problems_of(v2(node("", "qualify")), InvalidConfig) == ['nodes[0].id: node id must not be empty ("")']


def test_unknown_node_type() -> None:
    """An unknown node type is a structural error that lists every known type in contract order."""
    assert problems_of(v2(node("a", "qualify"), node("b", "scorer")), InvalidConfig) == [
        'nodes[1].type: unknown node type "scorer" '
        "(expected one of candidate_source, enrich, qualify, filter, score, rank, output)"
    ]


@pytest.mark.parametrize("end", ["source", "target"])
def test_dangling_edge(end: str) -> None:
    """An edge whose source or target names no node is a structural error on that end of that edge."""
    e = edge("a", "b")
    e[end] = "x"
    config = v2(node("a", "qualify"), node("b", "score"), edges=[edge("a", "b"), edge("a", "b"), e])
    assert problems_of(config, InvalidConfig) == [f'edges[2].{end}: no node with id "x"']


def test_dangling_both_ends() -> None:
    """An edge with both ends missing gets one problem per end, source first."""
    config = v2(node("a", "qualify"), edges=[edge("x", "y")])
    assert paths_of(config, InvalidConfig) == ["edges[0].source", "edges[0].target"]


def test_cycle_names_the_nodes() -> None:
    """A cycle is reported once, naming only the nodes on the cycle, not those up- or downstream."""
    config = v2(
        node("a", "qualify"),
        node("b", "score"),
        node("c", "rank"),
        node("d", "output"),
        edges=[edge("a", "b"), edge("b", "c"), edge("c", "b"), edge("c", "d")],
    )
    [problem] = problems_of(config, InvalidConfig)
    # b and c are the cycle; a (upstream) and d (downstream) are not named.
    assert problem == 'edges: cycle among nodes "b", "c"'


def test_self_loop_is_a_cycle() -> None:
    """An edge from a node to itself is reported as a cycle."""
    assert problems_of(v2(node("a", "qualify"), edges=[edge("a", "a")]), InvalidConfig) == [
        'edges: cycle among nodes "a"'
    ]


def test_two_separate_cycles_each_reported() -> None:
    """Two disjoint cycles are reported as two problems, each naming its own nodes."""
    config = v2(
        *(node(n, "filter") for n in "abcd"),
        edges=[edge("a", "b"), edge("b", "a"), edge("b", "c"), edge("c", "d"), edge("d", "c")],
    )
    assert problems_of(config, InvalidConfig) == [
        'edges: cycle among nodes "a", "b"',
        'edges: cycle among nodes "c", "d"',
    ]


def test_diamond_is_not_a_cycle() -> None:
    """Converging paths (a diamond, plus a shortcut edge) are a valid DAG, not mistaken for a cycle."""
    pipeline.validate(
        v2(
            *(node(n, "filter") for n in "abcd"),
            edges=[edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d"), edge("a", "d")],
        )
    )


def test_huge_cycle_message_is_capped() -> None:
    """A cycle of 50 nodes names only the first few and says "and 40 more", keeping the message short."""
    ids = [f"n{i}" for i in range(50)]
    config = v2(
        *(node(i, "filter") for i in ids),
        edges=[edge(ids[i], ids[(i + 1) % 50]) for i in range(50)],
    )
    [problem] = problems_of(config, InvalidConfig)
    assert "and 40 more" in problem


@pytest.mark.parametrize("limit_key", ["topN", "limit"])
@pytest.mark.parametrize("value", [0, -2, "5", True, 1.5, None, 5.0, [5]])
def test_rank_limit_refused(limit_key: str, value: object) -> None:
    """A rank node's `topN`/`limit` must be a positive int: zero, negatives, strings, bools, floats
    (even 5.0), null and lists are structural errors."""
    config = v2(node("a", "qualify"), node("b", "qualify"), node("c", "score"), node("r", "rank", **{limit_key: value}))
    assert problems_of(config, InvalidConfig) == [
        f"nodes[3].config.{limit_key}: must be a positive integer ({json.dumps(value)})"
    ]


def test_rank_limit_message_matches_contract() -> None:
    """A bad rank limit reads exactly `<path>: must be a positive integer (<value>)`, the contract's wording."""
    config = v2(node("a", "qualify"), node("b", "qualify"), node("c", "score"), node("r", "rank", topN=-2))
    assert problems_of(config, InvalidConfig) == ["nodes[3].config.topN: must be a positive integer (-2)"]


@pytest.mark.parametrize("value", [1, 5, 10_000])
def test_rank_limit_accepted(value: int) -> None:
    """Positive integer `topN` and `limit` values, large ones included, are accepted."""
    pipeline.validate(v2(node("r", "rank", topN=value, limit=value)))


def test_rank_limit_in_data_reports_data_path() -> None:
    """A bad rank limit under the `data` synonym is reported at the `data.topN` path."""
    config = v2({"id": "r", "type": "rank", "data": {"topN": "5"}})
    assert problems_of(config, InvalidConfig) == ['nodes[0].data.topN: must be a positive integer ("5")']


def test_rank_limits_only_checked_on_rank_nodes() -> None:
    """`topN`/`limit` are only checked on rank nodes: bad values on a filter node are accepted."""
    pipeline.validate(v2(node("f", "filter", topN=-1, limit="x")))


def test_all_structural_errors_reported_at_once() -> None:
    """Every structural problem is reported in one error, in node then edge order, and the message
    counts them."""
    config = v2(
        node("a", "qualify"),
        node("a", "scorer"),
        node("", "score"),
        node("r", "rank", topN=0, limit=-1),
        edges=[edge("a", "missing"), edge("r", "r")],
    )
    with pytest.raises(InvalidConfig) as info:
        pipeline.validate(config)
    assert [p.path for p in info.value.problems] == [
        "nodes[1].id",
        "nodes[1].type",
        "nodes[2].id",
        "nodes[3].config.topN",
        "nodes[3].config.limit",
        "edges[0].target",
        "edges",
    ]
    assert str(info.value) == "config is not valid (7 problems): fix them and retry"


def test_all_schema_errors_reported_at_once() -> None:
    """Every schema problem (nodes, edges, stages) is reported in one error, in document order."""
    config = {"nodes": [{"id": 1}, "x", node("s", "score", method=2)], "edges": [{}], "stages": 4}
    paths = paths_of(config, BadInput)
    assert paths == [
        "nodes[0].id",
        "nodes[0].type",
        "nodes[1]",
        "nodes[2].config.method",
        "edges[0].source",
        "edges[0].target",
        "stages",
    ]


def test_mixed_schema_and_structural_is_bad_input_listing_both() -> None:
    """With both kinds present the error is BadInput (exit 2) listing schema problems first, then
    structural ones, all counted."""
    config = v2(
        {"id": "a", "type": "scorer", "config": []},  # schema: config; structural: type
        node("a", "rank", topN=-2),  # structural: duplicate id, topN
        {"id": 3, "type": "filter"},  # schema: id
        edges=[edge("a", "zzz")],  # structural: dangling
    )
    with pytest.raises(BadInput) as info:
        pipeline.validate(config)
    assert info.value.exit_code == 2
    assert [str(p) for p in info.value.problems] == [
        "nodes[0].config: must be an object ([])",
        "nodes[2].id: must be a string (3)",
        'nodes[0].type: unknown node type "scorer" '
        "(expected one of candidate_source, enrich, qualify, filter, score, rank, output)",
        'nodes[1].id: duplicate node id "a" (first at nodes[0])',
        "nodes[1].config.topN: must be a positive integer (-2)",
        'edges[0].target: no node with id "zzz"',
    ]
    assert "6 problems" in str(info.value)


def test_problems_are_problem_instances_and_message_is_one_line() -> None:
    """Problems are `Problem` instances and the error message is a single line with a singular count."""
    with pytest.raises(BadInput) as info:
        pipeline.validate({})
    assert all(isinstance(p, Problem) for p in info.value.problems)
    assert "\n" not in str(info.value)
    assert str(info.value) == "config is not valid (1 problem): fix them and retry"


# --------------------------------------------------------------------------
# scoring method
# --------------------------------------------------------------------------


def test_scoring_method_v1() -> None:
    """The v1 scoring method is `stages.scoring.method`, and None when the stage or method is absent."""
    assert pipeline.scoring_method(VALID_V1) == "rules"
    assert pipeline.scoring_method({"stages": {"scoring": {}}}) is None
    assert pipeline.scoring_method({"stages": {}}) is None


def test_scoring_method_v2_first_score_node_in_list_order() -> None:
    """Without edges, the v2 scoring method is the first score node's in list order."""
    config = v2(node("a", "score", method="first"), node("b", "score", method="second"))
    assert pipeline.scoring_method(config) == "first"


def test_scoring_method_v2_topological_order_beats_list_order() -> None:
    """Edges decide which score node comes first: topological order wins over list order."""
    # List order says "late" comes first, but the edge puts it after "early".
    config = v2(
        node("late", "score", method="late-method"),
        node("early", "score", method="early-method"),
        edges=[edge("early", "late")],
    )
    pipeline.validate(config)
    assert pipeline.scoring_method(config) == "early-method"


def test_scoring_method_v2_list_order_breaks_ties() -> None:
    """Among nodes ready at once, list order decides, not the order edges are listed (no FIFO by edge)."""
    # Both x and y are ready after "src"; x comes first in the list even though
    # the edge to y is listed first. A plain FIFO queue fed in edge order
    # would pick y.
    config = v2(
        node("src", "candidate_source"),
        node("x", "score", method="x-method"),
        node("y", "score", method="y-method"),
        edges=[edge("src", "y"), edge("src", "x")],
    )
    assert pipeline.scoring_method(config) == "x-method"


def test_scoring_method_v2_tie_break_is_global_list_order() -> None:
    """Ties are broken by global list index each step (a priority queue), so a newly ready earlier
    node beats a long-waiting later one."""
    # a (index 1) and d (index 3) are ready at once; a goes first, then b
    # (index 2) and c (index 0) each become ready before d is taken, and each
    # beats d on list index. Order: a, b, c, d. A FIFO would take d second.
    config = v2(
        node("c", "score", method="c-method"),
        node("a", "qualify"),
        node("b", "qualify"),
        node("d", "score", method="d-method"),
        edges=[edge("a", "b"), edge("b", "c")],
    )
    assert pipeline.scoring_method(config) == "c-method"


def test_scoring_method_first_score_node_without_method_falls_back_to_stages() -> None:
    """If the first score node has no method, `stages.scoring.method` is used (or None); a later
    score node's method is not."""
    config = v2(
        node("s1", "score"),
        node("s2", "score", method="later"),
        stages={"scoring": {"method": "from-stages"}},
    )
    # Only the first score node counts; the later one's method is not used.
    assert pipeline.scoring_method(config) == "from-stages"
    del config["stages"]
    assert pipeline.scoring_method(config) is None


def test_scoring_method_no_score_node_falls_back_to_stages() -> None:
    """A v2 config without a score node takes its method from `stages.scoring`, else has none."""
    config = v2(node("q", "qualify"), stages={"scoring": {"method": "m"}})
    assert pipeline.scoring_method(config) == "m"
    assert pipeline.scoring_method(v2(node("q", "qualify"))) is None


def test_scoring_method_node_beats_stages() -> None:
    """A score node's own method wins over `stages.scoring.method`."""
    config = v2(node("s", "score", method="node"), stages={"scoring": {"method": "stages"}})
    assert pipeline.scoring_method(config) == "node"


def test_scoring_method_empty_string_is_none() -> None:
    """An empty-string method counts as no method, in v1 and v2, and falls back to stages in v2."""
    assert pipeline.scoring_method(v2(node("s", "score", method=""))) is None
    assert pipeline.scoring_method({"stages": {"scoring": {"method": ""}}}) is None
    config = v2(node("s", "score", method=""), stages={"scoring": {"method": "m"}})
    assert pipeline.scoring_method(config) == "m"


def test_scoring_method_from_data_synonym() -> None:
    """A score node's method is read from `data` when the node uses that synonym of `config`."""
    config = v2({"id": "s", "type": "score", "data": {"method": "via-data"}})
    pipeline.validate(config)
    assert pipeline.scoring_method(config) == "via-data"


def test_scoring_method_best_effort_on_invalid_config() -> None:
    """`scoring_method` works best-effort on invalid configs (cycles, dangling edges, wrong types)
    instead of raising."""
    config = v2(
        node("a", "score", method="a-method"),
        node("b", "score", method="b-method"),
        edges=[edge("a", "b"), edge("b", "a"), edge("zzz", "a")],
    )
    assert pipeline.scoring_method(config) == "a-method"
    assert pipeline.scoring_method({"nodes": "x"}) is None
    assert pipeline.scoring_method([]) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------


def test_summary_v2() -> None:
    """A v2 summary is `{"nodeCount", "scoringMethod"}`, with the keys in that order."""
    result = pipeline.summary(VALID_V2)
    assert result == {"nodeCount": 7, "scoringMethod": "weighted"}
    assert list(result) == ["nodeCount", "scoringMethod"]


def test_summary_v1_counts_known_stages_present() -> None:
    """A v1 summary's nodeCount counts the known stages present, keys in order, 0 for no stages."""
    assert pipeline.summary(VALID_V1) == {"nodeCount": 5, "scoringMethod": "rules"}
    two = {"stages": {"scoring": {"method": "m"}, "ranking": {}}}
    assert list(pipeline.summary(two).items()) == [("nodeCount", 2), ("scoringMethod", "m")]
    assert pipeline.summary({"stages": {}}) == {"nodeCount": 0, "scoringMethod": None}


def test_summary_v2_node_count_ignores_stages() -> None:
    """A v2 nodeCount counts nodes only; stages metadata adds nothing."""
    config = v2(node("a", "qualify"), stages={"enrichment": {}, "scoring": {"method": "m"}})
    assert pipeline.summary(config) == {"nodeCount": 1, "scoringMethod": "m"}


# --------------------------------------------------------------------------
# default draft and publishing
# --------------------------------------------------------------------------


def test_default_draft_shape() -> None:
    """A new flow's draft is exactly the five-node v2 pipeline of the contract (topN 5, no method)."""
    draft = pipeline.default_draft()
    assert draft == {
        "version": 2,
        "nodes": [
            {"id": "source", "type": "candidate_source", "config": {}},
            {"id": "qualify", "type": "qualify", "config": {}},
            {"id": "score", "type": "score", "config": {}},
            {"id": "rank", "type": "rank", "config": {"topN": 5}},
            {"id": "output", "type": "output", "config": {}},
        ],
    }


def test_default_draft_validates_and_has_no_method() -> None:
    """The default draft validates, is v2 and has no scoring method yet (summary: 5 nodes, null)."""
    draft = pipeline.default_draft()
    pipeline.validate(draft)
    assert pipeline.config_format(draft) == 2
    assert pipeline.scoring_method(draft) is None
    assert pipeline.summary(draft) == {"nodeCount": 5, "scoringMethod": None}


def test_default_draft_is_fresh_each_call() -> None:
    """`default_draft()` returns a fresh deep copy each call: mutating one does not change the next."""
    first = pipeline.default_draft()
    first["nodes"][3]["config"]["topN"] = 99
    first["nodes"].append({})
    assert pipeline.default_draft()["nodes"][3]["config"]["topN"] == 5
    assert len(pipeline.default_draft()["nodes"]) == 5


def test_check_publishable_refuses_default_draft() -> None:
    """Publishing a draft with no scoring method is InvalidConfig (exit 5) pointing at the first score
    node's `config.method`."""
    with pytest.raises(InvalidConfig) as info:
        pipeline.check_publishable(pipeline.default_draft())
    assert info.value.exit_code == 5
    assert str(info.value) == (
        "draft has no scoring method: set config.method on the first score node "
        "(or stages.scoring.method) and publish again"
    )
    assert [p.path for p in info.value.problems] == ["nodes[2].config.method"]


def test_check_publishable_accepts_draft_with_method() -> None:
    """A draft with a method on its score node, and a v1 config with a scoring method, are publishable."""
    draft = pipeline.default_draft()
    draft["nodes"][2]["config"]["method"] = "weighted"
    pipeline.check_publishable(draft)
    pipeline.check_publishable(VALID_V1)


def test_check_publishable_accepts_stages_fallback() -> None:
    """A draft whose method comes only from `stages.scoring.method` is publishable."""
    draft = pipeline.default_draft()
    draft["stages"] = {"scoring": {"method": "m"}}
    pipeline.check_publishable(draft)


def test_check_publishable_v1_without_method() -> None:
    """A v1 draft without a scoring method is refused with the problem at `stages.scoring.method`."""
    with pytest.raises(InvalidConfig) as info:
        pipeline.check_publishable({"stages": {"ranking": {}}})
    assert [p.path for p in info.value.problems] == ["stages.scoring.method"]


def test_check_publishable_turns_schema_errors_into_invalid_config() -> None:
    """At publish, schema errors become InvalidConfig (exit 5) with the same problems and a
    "publish again" message, not BadInput."""
    config = {"nodes": [{"id": 1, "type": "score"}, node("a", "scorer")]}
    with pytest.raises(BadInput) as bad:
        pipeline.validate(config)
    with pytest.raises(InvalidConfig) as info:
        pipeline.check_publishable(config)
    assert type(info.value) is InvalidConfig
    assert info.value.exit_code == 5
    assert info.value.problems == bad.value.problems
    assert str(info.value) == "draft is not valid (2 problems): fix them and publish again"


def test_check_publishable_structural_errors_keep_problems() -> None:
    """At publish, structural problems are passed through unchanged in the InvalidConfig."""
    draft = pipeline.default_draft()
    draft["nodes"][3]["config"]["topN"] = 0
    draft["nodes"][2]["config"]["method"] = "m"
    with pytest.raises(InvalidConfig) as info:
        pipeline.check_publishable(draft)
    assert [str(p) for p in info.value.problems] == ["nodes[3].config.topN: must be a positive integer (0)"]


def test_check_publishable_non_object() -> None:
    """Publishing a non-object config is InvalidConfig with the problem at the root path `$`."""
    with pytest.raises(InvalidConfig) as info:
        pipeline.check_publishable("nope")
    assert [p.path for p in info.value.problems] == ["$"]


# --------------------------------------------------------------------------
# data synonym, immutability, scale
# --------------------------------------------------------------------------


def test_data_synonym_validates_like_config() -> None:
    """Nodes using `data` instead of `config` validate and publish just like `config` ones."""
    config = v2(
        {"id": "src", "type": "candidate_source", "data": {"q": 1}},
        {"id": "s", "type": "score", "data": {"method": "m"}},
        {"id": "r", "type": "rank", "data": {"topN": 2}},
    )
    pipeline.validate(config)
    pipeline.check_publishable(config)


@pytest.mark.parametrize(
    "config",
    [
        VALID_V2,
        VALID_V1,
        v2(
            node("b", "score", method="x"),
            node("a", "rank", topN=-1),
            {"id": 1, "type": "scorer", "config": [3, 2, 1]},
            edges=[edge("a", "b"), edge("b", "a"), edge("q", "a")],
            stages={"z": 1, "a": 2},
        ),
        {"stages": {"zeta": {}, "scoring": {"method": 1}}},
    ],
)
def test_validation_does_not_mutate(config: dict[str, Any]) -> None:
    """validate, check_publishable, scoring_method, summary and config_format never modify or
    reorder the config, valid or not."""
    before = copy.deepcopy(config)
    before_json = json.dumps(config)  # also catches key reordering
    for call in (pipeline.validate, pipeline.check_publishable):
        try:
            call(config)
        except FlowctlError:
            pass
    pipeline.scoring_method(config)
    pipeline.summary(config)
    pipeline.config_format(config)
    assert config == before
    assert json.dumps(config) == before_json


def test_large_chain_validates() -> None:
    """A 5000-node chain listed in reverse validates, and the topological order still finds the
    first score node (validation scales to large graphs)."""
    n = 5000
    # Listed in reverse so the topological order has real work to do.
    nodes = [node(f"n{i}", "filter") for i in reversed(range(n))]
    nodes[0] = node(f"n{n - 1}", "score", method="last")
    nodes[-1] = node("n0", "score", method="first")
    config = v2(*nodes, edges=[edge(f"n{i}", f"n{i + 1}") for i in range(n - 1)])
    pipeline.validate(config)
    assert pipeline.scoring_method(config) == "first"
    assert pipeline.summary(config)["nodeCount"] == n


def test_large_cycle_reported() -> None:
    """A 5000-node cycle is still found and reported as one problem (cycle detection scales)."""
    n = 5000
    config = v2(
        *(node(f"n{i}", "filter") for i in range(n)),
        edges=[edge(f"n{i}", f"n{(i + 1) % n}") for i in range(n)],
    )
    [problem] = problems_of(config, InvalidConfig)
    assert problem.startswith('edges: cycle among nodes "n0", "n1"')

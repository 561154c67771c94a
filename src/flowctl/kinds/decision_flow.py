"""The decision-flow kind: format detection, validation, scoring method, summary.

A flow's config comes in one of two formats, detected automatically:

* v2, the composable pipeline: ``"version": 2`` or a ``nodes`` list. Nodes are
  ``{"id", "type", "config"}`` (``data`` is a synonym of ``config``); optional
  ``edges`` (``[{"source", "target"}]``) order them, otherwise list order does;
  optional ``stages`` metadata is kept as given.
* v1, the fixed-stage pipeline: no ``nodes``; a ``stages`` object with any of
  ``enrichment, qualification, scoring, ranking, filtering``.

Validation runs in two layers and reports every finding at once:

* the *schema* layer (pydantic models): wrong types, missing fields, unknown
  v1 stages -> :class:`~flowctl.errors.BadInput` (exit 2);
* the *structural* layer (plain Python, v2 only): empty or duplicate node ids,
  unknown node types, edges to missing nodes, cycles, bad rank limits ->
  :class:`~flowctl.errors.InvalidConfig` (exit 5), unless a schema error is also
  present, in which case everything is raised together as ``BadInput``.

Validation only inspects: the user's config is never mutated, reordered or
normalized, so what gets stored is exactly what the user gave.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidConfig, Problem
from ..graph import cycles, topological_order
from .decision_flow_schema import NODE_TYPES, V1_STAGES, V1Config, V2Config, json_schema, node_model
from .problems import (
    ROOT_PATH,
    check_stored_draft,
    json_path,
    located_problems,
    raise_problems,
    schema_problems,
    show_value,
)

__all__ = [
    "NODE_TYPES",
    "ROOT_PATH",
    "V1_STAGES",
    "check_publishable",
    "config_format",
    "config_schema",
    "default_draft",
    "scoring_method",
    "summary",
    "validate",
]


def _unknown_stage(key: str | int) -> str:
    # Only the v1 `stages` object forbids extra keys.
    return f"unknown stage {show_value(key)} (expected one of {', '.join(V1_STAGES)})"

# Rank-node keys that cap the number of results; each must be a positive int.
_RANK_LIMIT_KEYS = ("topN", "limit")

# Cycles in huge graphs would otherwise produce a message listing thousands of ids.
_MAX_CYCLE_IDS = 10


# --------------------------------------------------------------------------
# Format detection.
# --------------------------------------------------------------------------


def _is_int(value: Any, expected: int) -> bool:
    # bool is a subclass of int; `True == 1` must not read as version 1.
    return type(value) is int and value == expected


def _detect(config: dict[str, Any]) -> int | None:
    """2, 1, or None when the config says neither."""
    if "nodes" in config or _is_int(config.get("version"), 2):
        return 2
    if "stages" in config or _is_int(config.get("version"), 1):
        return 1
    return None


def config_format(config: dict[str, Any]) -> int:
    """The config's format, 1 or 2.

    Meant to be called after :func:`validate`, but works on any value as a best
    effort: a ``nodes`` key or ``"version": 2`` means 2, a ``stages`` key (or
    ``"version": 1``) means 1, and anything else is taken as 2, the format of
    new drafts.
    """
    if isinstance(config, dict) and _detect(config) == 1:
        return 1
    return 2


# --------------------------------------------------------------------------
# Validation.
# --------------------------------------------------------------------------


def validate(config: object) -> None:
    """Check a config and report every problem at once.

    Raises :class:`BadInput` (exit 2) when there is any schema error, listing
    schema and structural problems together; :class:`InvalidConfig` (exit 5)
    when only structural (v2 graph) problems were found. Each problem carries
    a JSON path such as ``nodes[3].config.topN`` and the offending value.
    Returns None when the config is valid. The config is never modified.
    """
    raise_problems(*_check(config))


def _check(config: object) -> tuple[list[Problem], list[Problem]]:
    """(schema problems, structural problems) of any value."""
    if not isinstance(config, dict):
        return [Problem(ROOT_PATH, f"must be a JSON object ({show_value(config)})")], []

    fmt = _detect(config)
    if fmt is None:
        schema = [
            Problem(
                ROOT_PATH,
                'must have a "nodes" list (v2 pipeline) or a "stages" object (v1 pipeline)',
            )
        ]
        if "version" in config:
            # Not 1 or 2, else detection would have picked a format.
            schema.append(Problem("version", f"must be 1 or 2 ({show_value(config['version'])})"))
        return schema, []

    if fmt == 1:
        try:
            V1Config.model_validate(config)
        except ValidationError as exc:
            return schema_problems(exc, unknown=_unknown_stage), []
        # v1 stages are fixed; there is no graph to check.
        return [], []

    return _check_v2(config)


def _check_v2(config: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    top: list[tuple[tuple[int | str, ...], Problem]] = []
    try:
        V2Config.model_validate(config)
    except ValidationError as exc:
        top = located_problems(exc, unknown=_unknown_stage)
    # Problems are listed in document order: version and nodes first, then
    # the per-node findings, then edges and stages.
    schema = [p for loc, p in top if loc[:1] in (("version",), ("nodes",))]
    rest = [p for loc, p in top if loc[:1] not in (("version",), ("nodes",))]

    nodes = config.get("nodes")
    nodes = nodes if isinstance(nodes, list) else []
    for i, node in enumerate(nodes):
        try:
            node_model(node).model_validate(node)
        except ValidationError as exc:
            schema.extend(schema_problems(exc, ("nodes", i), unknown=_unknown_stage))
        # Checked here rather than in a model validator: pydantic skips
        # model validators once a field fails, and every error must be shown.
        if isinstance(node, dict) and "config" in node and "data" in node:
            schema.append(
                Problem(json_path(("nodes", i)), 'has both "config" and "data": keep only one')
            )
    schema.extend(rest)

    edges = config.get("edges")
    edges = edges if isinstance(edges, list) else []
    # Structural checks run even when the schema failed, on every part whose
    # own fields are well-typed, so one run reports everything.
    structural = _structural_problems(nodes, edges)
    return schema, structural


def _node_settings(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """("config" | "data", settings) for each settings object the node has."""
    for key in ("config", "data"):
        settings = node.get(key)
        if isinstance(settings, dict):
            yield key, settings


def _structural_problems(nodes: list[Any], edges: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    first_index: dict[str, int] = {}

    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            continue
        node_id = node.get("id")
        if isinstance(node_id, str):
            if node_id == "":
                problems.append(Problem(json_path(("nodes", i, "id")), 'node id must not be empty ("")'))
            elif node_id in first_index:
                first = first_index[node_id]
                problems.append(
                    Problem(
                        json_path(("nodes", i, "id")),
                        f"duplicate node id {show_value(node_id)} (first at nodes[{first}])",
                    )
                )
            # The empty id is recorded too, so an edge pointing at it is not
            # reported a second time as dangling.
            first_index.setdefault(node_id, i)

        node_type = node.get("type")
        if isinstance(node_type, str) and node_type not in NODE_TYPES:
            problems.append(
                Problem(
                    json_path(("nodes", i, "type")),
                    f"unknown node type {show_value(node_type)} (expected one of {', '.join(NODE_TYPES)})",
                )
            )
        if node_type == "rank":
            for key, settings in _node_settings(node):
                for limit in _RANK_LIMIT_KEYS:
                    if limit in settings and not _is_positive_int(settings[limit]):
                        problems.append(
                            Problem(
                                json_path(("nodes", i, key, limit)),
                                f"must be a positive integer ({show_value(settings[limit])})",
                            )
                        )

    # Graph over node indices; only edges whose two ends exist take part.
    successors: list[list[int]] = [[] for _ in nodes]
    for j, edge in enumerate(edges):
        if not isinstance(edge, dict):
            continue
        ends: list[int] = []
        for end in ("source", "target"):
            ref = edge.get(end)
            if not isinstance(ref, str):
                continue  # a schema error, already reported
            if ref in first_index:
                ends.append(first_index[ref])
            else:
                problems.append(
                    Problem(json_path(("edges", j, end)), f"no node with id {show_value(ref)}")
                )
        if len(ends) == 2:
            successors[ends[0]].append(ends[1])

    for component in cycles(successors):
        ids = [str(nodes[i]["id"]) for i in component]
        shown = ", ".join(show_value(node_id) for node_id in ids[:_MAX_CYCLE_IDS])
        if len(ids) > _MAX_CYCLE_IDS:
            shown += f" and {len(ids) - _MAX_CYCLE_IDS} more"
        problems.append(Problem("edges", f"cycle among nodes {shown}"))
    return problems


def _is_positive_int(value: Any) -> bool:
    return type(value) is int and value > 0


# --------------------------------------------------------------------------
# Scoring method and summary.
# --------------------------------------------------------------------------


def _method_of(settings: Any) -> str | None:
    """A settings object's non-empty string `method`, else None."""
    if isinstance(settings, dict):
        method = settings.get("method")
        if isinstance(method, str) and method:
            return method
    return None


def _pipeline_order(nodes: list[Any], edges: Any) -> list[int]:
    """Node indices in pipeline order: topological by edges, list order breaking ties.

    Best effort on invalid configs: edges with a missing end are ignored and
    nodes caught in a cycle come last, in list order.
    """
    first_index: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            first_index.setdefault(node["id"], i)
    successors: list[list[int]] = [[] for _ in nodes]
    for edge in edges if isinstance(edges, list) else []:
        if not isinstance(edge, dict):
            continue
        source, target = edge.get("source"), edge.get("target")
        if isinstance(source, str) and isinstance(target, str):
            if source in first_index and target in first_index:
                successors[first_index[source]].append(first_index[target])
    order, left = topological_order(successors)
    return order + left


def scoring_method(config: dict[str, Any]) -> str | None:
    """The pipeline's scoring method, or None if it has none yet.

    v1: ``stages.scoring.method``. v2: the ``method`` in the ``config`` (or
    ``data``) of the first ``score`` node in pipeline order (topological by
    edges, list order breaking ties); if that node has none, or there is no
    score node, ``stages.scoring.method``. An empty string counts as no method.
    Best effort on configs that did not validate.
    """
    if not isinstance(config, dict):
        return None
    stages = config.get("stages")
    stage_method = _method_of(stages.get("scoring")) if isinstance(stages, dict) else None
    if config_format(config) == 1:
        return stage_method

    nodes = config.get("nodes")
    nodes = nodes if isinstance(nodes, list) else []
    for i in _pipeline_order(nodes, config.get("edges")):
        node = nodes[i]
        if isinstance(node, dict) and node.get("type") == "score":
            # Only the first score node counts; `config` wins over `data` if a
            # (schema-invalid) node has both.
            method = _method_of(node.get("config"))
            if method is None and "config" not in node:
                method = _method_of(node.get("data"))
            return method or stage_method
    return stage_method


def summary(config: dict[str, Any]) -> dict[str, Any]:
    """``{"nodeCount": int, "scoringMethod": str | None}``, keys in that order.

    nodeCount is the number of nodes (v2) or of the five known stages present
    (v1).
    """
    if not isinstance(config, dict):
        return {"nodeCount": 0, "scoringMethod": None}
    if config_format(config) == 1:
        stages = config.get("stages")
        count = sum(1 for s in V1_STAGES if s in stages) if isinstance(stages, dict) else 0
    else:
        nodes = config.get("nodes")
        count = len(nodes) if isinstance(nodes, list) else 0
    return {"nodeCount": count, "scoringMethod": scoring_method(config)}


# --------------------------------------------------------------------------
# Drafts and publishing.
# --------------------------------------------------------------------------


def default_draft() -> dict[str, Any]:
    """The config of a newly created flow: a v2 pipeline without a scoring method.

    A fresh dict on every call, so callers may modify it freely.
    """
    return {
        "version": 2,
        "nodes": [
            {"id": "source", "type": "candidate_source", "config": {}},
            {"id": "qualify", "type": "qualify", "config": {}},
            {"id": "score", "type": "score", "config": {}},
            {"id": "rank", "type": "rank", "config": {"topN": 5}},
            {"id": "output", "type": "output", "config": {}},
        ],
    }


def check_publishable(config: object) -> None:
    """Refuse to publish a config that is invalid or has no scoring method.

    Every failure is :class:`InvalidConfig` (exit 5): a stored draft that does
    not validate is an invalid draft, not bad input, so validation errors are
    re-raised with the same problems.
    """
    check_stored_draft(validate, config)
    assert isinstance(config, dict)  # validate() accepts nothing else
    if scoring_method(config) is None:
        raise InvalidConfig(
            "draft has no scoring method: set config.method on the first score node "
            "(or stages.scoring.method) and publish again",
            [Problem(_missing_method_path(config), "no scoring method set")],
        )


def _missing_method_path(config: dict[str, Any]) -> str:
    """Where the missing scoring method should go, for the problem's path."""
    if config_format(config) == 2:
        nodes = config["nodes"]
        for i in _pipeline_order(nodes, config.get("edges")):
            if nodes[i].get("type") == "score":
                key = "data" if "data" in nodes[i] and "config" not in nodes[i] else "config"
                return json_path(("nodes", i, key, "method"))
    return "stages.scoring.method"


def config_schema() -> dict[str, Any]:
    """The JSON Schema of decision-flow configs, generated from the models."""
    return json_schema()

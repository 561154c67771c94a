"""Decision-flow configs: format detection, validation, scoring method, summary.

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

import heapq
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from flowctl.errors import BadInput, FlowctlError, InvalidConfig, Problem

__all__ = [
    "NODE_TYPES",
    "ROOT_PATH",
    "V1_STAGES",
    "check_publishable",
    "config_format",
    "default_draft",
    "scoring_method",
    "summary",
    "validate",
]

#: Node types of a v2 pipeline, in the order error messages list them.
NODE_TYPES: tuple[str, ...] = (
    "candidate_source",
    "enrich",
    "qualify",
    "filter",
    "score",
    "rank",
    "output",
)

#: Stage names of a v1 pipeline, in the order error messages list them.
V1_STAGES: tuple[str, ...] = ("enrichment", "qualification", "scoring", "ranking", "filtering")

#: Path label used for problems about the config as a whole.
ROOT_PATH = "$"

# Rank-node keys that cap the number of results; each must be a positive int.
_RANK_LIMIT_KEYS = ("topN", "limit")

# Long offending values (a whole node, say) are cut so one problem stays one line.
_MAX_SHOWN = 80

# Cycles in huge graphs would otherwise produce a message listing thousands of ids.
_MAX_CYCLE_IDS = 10

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# --------------------------------------------------------------------------
# Schema layer: pydantic models.
#
# Every model is strict (no "5" -> 5 coercion, bool is not int) and allows
# extra keys, except the v1 `stages` object, whose keys are a closed set so a
# typo is caught rather than silently ignored. Optional fields default to
# None *without* being Optional: an absent key is fine, an explicit null is a
# type error ("must be an object if present"). Pydantic does not validate
# defaults, so the None default never trips the type.
# --------------------------------------------------------------------------


def _absent() -> Any:
    """The value of an optional field left out. Declared through a factory so the
    annotation can stay non-Optional (an explicit null is a type error) while
    type checkers, which check a plain `default=None`, accept it."""
    return None


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _ScoreSettings(_Model):
    """The settings object of a score node or of the `stages.scoring` stage."""

    method: str = Field(default_factory=_absent)


class _Node(_Model):
    """A v2 node of any type."""

    id: str
    type: str
    config: dict[str, Any] = Field(default_factory=_absent)
    data: dict[str, Any] = Field(default_factory=_absent)


class _ScoreNode(_Node):
    """A v2 node of type `score`: its settings carry the scoring method."""

    # Narrower than the base's dict on purpose: pydantic validates a score node's settings.
    config: _ScoreSettings = Field(default_factory=_absent)  # type: ignore[assignment]
    data: _ScoreSettings = Field(default_factory=_absent)  # type: ignore[assignment]


class _Edge(_Model):
    source: str
    target: str


class _V2Stages(_Model):
    """v2 `stages` metadata: free-form, except the one value the code reads.

    `stages.scoring.method` is the fallback scoring method of a v2 pipeline,
    so it is type-checked like in v1; everything else is kept as given.
    """

    scoring: _ScoreSettings = Field(default_factory=_absent)


class _V2Config(_Model):
    """Top level of a v2 pipeline; nodes are validated one by one afterwards."""

    version: StrictInt = Field(default_factory=_absent)
    # Each node is checked by `_node_model(node)` so a score node gets its
    # method typed; here only "is a list" is checked.
    nodes: list[Any]
    edges: list[_Edge] = Field(default_factory=_absent)
    stages: _V2Stages = Field(default_factory=_absent)

    @field_validator("version")
    @classmethod
    def _version_is_2(cls, value: int) -> int:
        if value != 2:
            raise PydanticCustomError("version", 'must be 2 for a pipeline with "nodes"')
        return value


class _V1Stages(BaseModel):
    """The closed set of v1 stages; each one is an object."""

    model_config = ConfigDict(strict=True, extra="forbid")

    enrichment: dict[str, Any] = Field(default_factory=_absent)
    qualification: dict[str, Any] = Field(default_factory=_absent)
    scoring: _ScoreSettings = Field(default_factory=_absent)
    ranking: dict[str, Any] = Field(default_factory=_absent)
    filtering: dict[str, Any] = Field(default_factory=_absent)


class _V1Config(_Model):
    """Top level of a v1 (fixed-stage) pipeline."""

    version: StrictInt = Field(default_factory=_absent)
    stages: _V1Stages

    @field_validator("version")
    @classmethod
    def _version_is_1(cls, value: int) -> int:
        if value != 1:
            raise PydanticCustomError("version", "must be 1 or 2")
        return value


def _node_model(node: Any) -> type[_Node]:
    if isinstance(node, dict) and node.get("type") == "score":
        return _ScoreNode
    return _Node


# --------------------------------------------------------------------------
# Rendering problems.
# --------------------------------------------------------------------------


def _show(value: Any) -> str:
    """The offending value, JSON-style (strings quoted, true, null), one short line."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def _path(loc: Iterable[int | str]) -> str:
    """`("nodes", 3, "config", "topN")` -> `nodes[3].config.topN`; () -> `$`."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}" if out else part)
        else:
            # Keys such as "my stage" or "a.b" would make a dotted path ambiguous.
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out) or ROOT_PATH


_TYPE_MESSAGES = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be an integer",
}


def _schema_problems(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    """Turn pydantic's errors into problems with readable paths and messages."""
    return [problem for _, problem in _located_problems(exc, prefix)]


def _located_problems(
    exc: ValidationError, prefix: tuple[int | str, ...] = ()
) -> list[tuple[tuple[int | str, ...], Problem]]:
    """Like `_schema_problems`, each problem paired with its pydantic location."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        kind = err["type"]
        if kind == "missing":
            message = "field required"
        elif kind == "extra_forbidden":
            # Only the v1 `stages` object forbids extra keys.
            message = f"unknown stage {_show(loc[-1])} (expected one of {', '.join(V1_STAGES)})"
        else:
            base = _TYPE_MESSAGES.get(kind) or _lower_first(err["msg"])
            message = f"{base} ({_show(err['input'])})"
        problems.append((loc, Problem(_path(loc), message)))
    return problems


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _count(n: int) -> str:
    return f"{n} problem" if n == 1 else f"{n} problems"


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
    schema, structural = _check(config)
    if not schema and not structural:
        return
    problems = schema + structural
    message = f"config is not valid ({_count(len(problems))}): fix them and retry"
    if schema:
        raise BadInput(message, problems)
    raise InvalidConfig(message, problems)


def _check(config: object) -> tuple[list[Problem], list[Problem]]:
    """(schema problems, structural problems) of any value."""
    if not isinstance(config, dict):
        return [Problem(ROOT_PATH, f"must be a JSON object ({_show(config)})")], []

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
            schema.append(Problem("version", f"must be 1 or 2 ({_show(config['version'])})"))
        return schema, []

    if fmt == 1:
        try:
            _V1Config.model_validate(config)
        except ValidationError as exc:
            return _schema_problems(exc), []
        # v1 stages are fixed; there is no graph to check.
        return [], []

    return _check_v2(config)


def _check_v2(config: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    top: list[tuple[tuple[int | str, ...], Problem]] = []
    try:
        _V2Config.model_validate(config)
    except ValidationError as exc:
        top = _located_problems(exc)
    # Problems are listed in document order: version and nodes first, then
    # the per-node findings, then edges and stages.
    schema = [p for loc, p in top if loc[:1] in (("version",), ("nodes",))]
    rest = [p for loc, p in top if loc[:1] not in (("version",), ("nodes",))]

    nodes = config.get("nodes")
    nodes = nodes if isinstance(nodes, list) else []
    for i, node in enumerate(nodes):
        try:
            _node_model(node).model_validate(node)
        except ValidationError as exc:
            schema.extend(_schema_problems(exc, ("nodes", i)))
        # Checked here rather than in a model validator: pydantic skips
        # model validators once a field fails, and every error must be shown.
        if isinstance(node, dict) and "config" in node and "data" in node:
            schema.append(
                Problem(_path(("nodes", i)), 'has both "config" and "data": keep only one')
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
                problems.append(Problem(_path(("nodes", i, "id")), 'node id must not be empty ("")'))
            elif node_id in first_index:
                first = first_index[node_id]
                problems.append(
                    Problem(
                        _path(("nodes", i, "id")),
                        f"duplicate node id {_show(node_id)} (first at nodes[{first}])",
                    )
                )
            # The empty id is recorded too, so an edge pointing at it is not
            # reported a second time as dangling.
            first_index.setdefault(node_id, i)

        node_type = node.get("type")
        if isinstance(node_type, str) and node_type not in NODE_TYPES:
            problems.append(
                Problem(
                    _path(("nodes", i, "type")),
                    f"unknown node type {_show(node_type)} (expected one of {', '.join(NODE_TYPES)})",
                )
            )
        if node_type == "rank":
            for key, settings in _node_settings(node):
                for limit in _RANK_LIMIT_KEYS:
                    if limit in settings and not _is_positive_int(settings[limit]):
                        problems.append(
                            Problem(
                                _path(("nodes", i, key, limit)),
                                f"must be a positive integer ({_show(settings[limit])})",
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
                    Problem(_path(("edges", j, end)), f"no node with id {_show(ref)}")
                )
        if len(ends) == 2:
            successors[ends[0]].append(ends[1])

    for component in _cycles(successors):
        ids = [str(nodes[i]["id"]) for i in component]
        shown = ", ".join(_show(node_id) for node_id in ids[:_MAX_CYCLE_IDS])
        if len(ids) > _MAX_CYCLE_IDS:
            shown += f" and {len(ids) - _MAX_CYCLE_IDS} more"
        problems.append(Problem("edges", f"cycle among nodes {shown}"))
    return problems


def _is_positive_int(value: Any) -> bool:
    return type(value) is int and value > 0


def _topological_order(successors: list[list[int]]) -> tuple[list[int], list[int]]:
    """Kahn's algorithm; ties go to the lowest list index.

    Returns (ordered indices, indices left over because they are on or behind
    a cycle, in list order). O((n + e) log n).
    """
    indegree = [0] * len(successors)
    for targets in successors:
        for t in targets:
            indegree[t] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for t in successors[i]:
            indegree[t] -= 1
            if indegree[t] == 0:
                heapq.heappush(ready, t)
    left = [i for i, d in enumerate(indegree) if d > 0]
    return order, left


def _cycles(successors: list[list[int]]) -> list[list[int]]:
    """The strongly connected components that contain a cycle, each in list order.

    Kahn's pass first discards everything not behind a cycle (the usual case:
    all of it), then iterative Tarjan on the rest separates the true cycle
    members from nodes merely downstream of one. Components come out ordered
    by their first node's list index.
    """
    _, left = _topological_order(successors)
    if not left:
        return []
    remaining = set(left)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0

    for root in left:
        if root in index:
            continue
        # Each frame: (node, iterator over its successors inside `remaining`).
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        frames: list[tuple[int, Iterator[int]]] = [
            (root, (t for t in successors[root] if t in remaining))
        ]
        while frames:
            v, children = frames[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    frames.append((w, (t for t in successors[w] if t in remaining)))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1 or v in successors[v]:
                    components.append(sorted(component))
    components.sort(key=lambda c: c[0])
    return components


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
    order, left = _topological_order(successors)
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
    try:
        validate(config)
    except FlowctlError as exc:
        raise InvalidConfig(
            f"draft is not valid ({_count(len(exc.problems))}): fix them and publish again",
            exc.problems,
        ) from exc

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
                return _path(("nodes", i, key, "method"))
    return "stages.scoring.method"

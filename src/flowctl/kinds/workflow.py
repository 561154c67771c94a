"""The workflow kind: a workflow's config is its definition, as the workflow
API stores it (docs/contract.md §4.8):

    {"nodes": {"<id>": {"type": …, …}}, "triggerNodeIds": ["<id>", …],
     "inputSchema": [{"key", "type", "required", "description"}],
     "variableDefs": [{"name", "type", "lifetime", "default", "description"}]}

Nodes are an object keyed by node id, so `diff` names a node's change by its
id (`/nodes/<id>/…`) with no special matching. Two layers, as for every kind:
the models check types and enums (exit 2); the references between parts —
triggers naming nodes, unique keys and names, the `root` alias — are
structural (exit 5). Fields a node has beyond `type` are kept as given.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Problem
from .problems import ROOT_PATH, check_stored_draft, json_path, raise_problems, schema_problems, show_value

#: The runtime alias of the trigger that fired; a workflow with several triggers
#: cannot also call one of them `root`.
ROOT_ALIAS = "root"


def _absent() -> Any:
    return None  # an optional field left out (an explicit null is a type error)


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class WorkflowNode(_Model):
    """One step of the workflow; everything beyond `type` is the step's own."""

    type: str = Field(min_length=1, description="what the step does (trigger, action, condition, …)")


class InputField(_Model):
    """One field a run of the workflow is started with."""

    key: str = Field(min_length=1)
    type: Literal["string", "number", "boolean", "object", "array"]
    required: bool = Field(default_factory=_absent)
    description: str = Field(default_factory=_absent)


class VariableDef(_Model):
    """A variable the workflow's steps read and write."""

    name: str = Field(min_length=1)
    type: Literal["number", "text", "boolean", "list", "object"]
    lifetime: Literal["persist", "reset"] = Field(
        default_factory=_absent, description="persist: kept across runs; reset: fresh on every run")
    default: Any = None
    description: str = Field(default_factory=_absent)


class WorkflowConfig(_Model):
    """A workflow definition."""

    model_config = ConfigDict(strict=True, extra="allow", title="flowctl workflow config")
    nodes: dict[str, WorkflowNode]
    triggerNodeIds: list[str] = Field(min_length=1, description="the nodes a run can start from")
    inputSchema: list[InputField] = Field(default_factory=_absent)
    variableDefs: list[VariableDef] = Field(default_factory=_absent)


def validate(config: object) -> None:
    """Raise BadInput (exit 2) for type and enum problems, InvalidConfig (exit 5)
    for broken references alone; every problem at once, with its path."""
    if not isinstance(config, dict):
        raise_problems([Problem(ROOT_PATH, f"must be a JSON object ({show_value(config)})")], [])
        return
    try:
        WorkflowConfig.model_validate(config)
        schema: list[Problem] = []
    except ValidationError as exc:
        schema = schema_problems(exc)
    raise_problems(schema, _structural_problems(config))


def _structural_problems(config: dict[str, Any]) -> list[Problem]:
    """References between parts, checked on every part whose own type is right."""
    problems: list[Problem] = []
    nodes = config.get("nodes")
    node_ids = set(nodes) if isinstance(nodes, dict) else set()
    if "" in node_ids:
        problems.append(Problem(json_path(("nodes", "")), 'node id must not be empty ("")'))
    triggers = config.get("triggerNodeIds")
    if isinstance(triggers, list):
        seen: set[str] = set()
        for i, trigger in enumerate(triggers):
            if not isinstance(trigger, str):
                continue
            where = json_path(("triggerNodeIds", i))
            if isinstance(nodes, dict) and trigger not in node_ids:
                problems.append(Problem(where, f"no node with id {show_value(trigger)} in nodes"))
            if trigger in seen:
                problems.append(Problem(where, f"trigger {show_value(trigger)} is listed twice"))
            seen.add(trigger)
            if trigger == ROOT_ALIAS and len(triggers) > 1:
                problems.append(Problem(where, f'a workflow with {len(triggers)} triggers cannot call one "root": '
                                               "it is the runtime alias of the trigger that fired; rename it"))
    problems += _unique(config.get("inputSchema"), "inputSchema", "key")
    problems += _unique(config.get("variableDefs"), "variableDefs", "name")
    return problems


def _unique(items: Any, field: str, name: str) -> list[Problem]:
    """A problem for each item of the list `field` whose `name` repeats an earlier one."""
    first: dict[str, int] = {}
    problems = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        value = item.get(name) if isinstance(item, dict) else None
        if not isinstance(value, str):
            continue
        if value in first:
            problems.append(Problem(json_path((field, i, name)),
                                    f"duplicate {name} {show_value(value)} (first at {field}[{first[value]}])"))
        first.setdefault(value, i)
    return problems


def default_draft() -> dict[str, Any]:
    """A new workflow: one manual trigger, no inputs, no variables."""
    return {"nodes": {"start": {"type": "trigger"}}, "triggerNodeIds": ["start"], "inputSchema": [],
            "variableDefs": []}


def check_publishable(config: object) -> None:
    """A workflow publishes when it validates (every trigger names a node)."""
    check_stored_draft(validate, config)


def summary(config: dict[str, Any]) -> dict[str, Any]:
    """`{"nodeCount", "triggerCount"}`; best effort on configs that did not validate."""
    nodes = config.get("nodes") if isinstance(config, dict) else None
    triggers = config.get("triggerNodeIds") if isinstance(config, dict) else None
    return {"nodeCount": len(nodes) if isinstance(nodes, dict) else 0,
            "triggerCount": len(triggers) if isinstance(triggers, list) else 0}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a workflow definition, generated from the models."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **WorkflowConfig.model_json_schema()}

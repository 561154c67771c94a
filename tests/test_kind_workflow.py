"""The workflow kind's rules (docs/contract.md §4.8): each validation rule with
a failing case and its path, the summary, the default draft."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flowctl.errors import BadInput, FlowctlError, InvalidConfig
from flowctl.kinds import workflow

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
ORDER: dict[str, Any] = json.loads((EXAMPLES / "order-fulfilment.json").read_text(encoding="utf-8"))


def order(**changes: Any) -> dict[str, Any]:
    """The example workflow (two triggers) with top-level fields replaced."""
    config = copy.deepcopy(ORDER)
    config.update(changes)
    return config


def problems(config: Any) -> tuple[type[FlowctlError], list[tuple[str, str]]]:
    with pytest.raises(FlowctlError) as caught:
        workflow.validate(config)
    return type(caught.value), [(p.path, p.message) for p in caught.value.problems]


def test_the_example_workflow_validates() -> None:
    """docs/examples/order-fulfilment.json, with two triggers, is valid as given."""
    workflow.validate(ORDER)
    workflow.check_publishable(ORDER)


def test_the_default_draft_is_valid() -> None:
    """A new workflow validates and can be published."""
    workflow.check_publishable(workflow.default_draft())


@pytest.mark.parametrize(("config", "path", "fragment"), [
    ({"triggerNodeIds": ["a"]}, "nodes", "field required"),
    (order(nodes=[{"id": "a"}]), "nodes", "must be an object"),
    (order(nodes={"a": {"type": 3}}), "nodes.a.type", "must be a string"),
    (order(nodes={"a": {"next": []}}), "nodes.a.type", "field required"),
    ({"nodes": {"a": {"type": "trigger"}}}, "triggerNodeIds", "field required"),
    (order(triggerNodeIds=[]), "triggerNodeIds", "at least 1"),
    (order(inputSchema=[{"key": "k", "type": "date"}]), "inputSchema[0].type", "'string'"),
    (order(inputSchema=[{"key": "k", "type": "string", "required": "yes"}]), "inputSchema[0].required",
     "true or false"),
    (order(variableDefs=[{"name": "v", "type": "string"}]), "variableDefs[0].type", "'text'"),
    (order(variableDefs=[{"name": "v", "type": "text", "lifetime": "forever"}]), "variableDefs[0].lifetime",
     "'persist'"),
    (order(inputSchema={"k": "string"}), "inputSchema", "must be a list"),
])
def test_schema_problems_are_exit_2(config: dict[str, Any], path: str, fragment: str) -> None:
    """Types, enums and required fields: BadInput (exit 2) with the field's path."""
    kind, found = problems(config)
    assert kind is BadInput
    assert any(where == path and fragment in message for where, message in found), found


@pytest.mark.parametrize(("config", "path", "fragment"), [
    (order(triggerNodeIds=["on-order", "nowhere"]), "triggerNodeIds[1]", 'no node with id "nowhere"'),
    (order(triggerNodeIds=["on-order", "on-order"]), "triggerNodeIds[1]", "listed twice"),
    (order(inputSchema=[{"key": "k", "type": "string"}, {"key": "k", "type": "number"}]), "inputSchema[1].key",
     "duplicate key"),
    (order(variableDefs=[{"name": "v", "type": "text"}, {"name": "v", "type": "list"}]), "variableDefs[1].name",
     "duplicate name"),
    (order(nodes={**ORDER["nodes"], "root": {"type": "trigger"}}, triggerNodeIds=["on-order", "root"]),
     "triggerNodeIds[1]", "runtime alias"),
    (order(nodes={**ORDER["nodes"], "": {"type": "action"}}), 'nodes[""]', "must not be empty"),
])
def test_reference_problems_are_exit_5(config: dict[str, Any], path: str, fragment: str) -> None:
    """Triggers naming nodes, unique keys and names, the root alias: InvalidConfig (exit 5)."""
    kind, found = problems(config)
    assert kind is InvalidConfig
    assert any(where == path and fragment in message for where, message in found), found


def test_a_single_trigger_may_be_called_root() -> None:
    """`root` is only refused beside other triggers: alone it is the firing trigger anyway."""
    workflow.validate({"nodes": {"root": {"type": "trigger"}}, "triggerNodeIds": ["root"]})


def test_schema_and_reference_problems_are_reported_together() -> None:
    """One run lists both layers; a schema problem among them makes it exit 2."""
    kind, found = problems(order(triggerNodeIds=["nowhere"], variableDefs=[{"name": "v", "type": "date"}]))
    assert kind is BadInput
    assert {"triggerNodeIds[0]", "variableDefs[0].type"} <= {where for where, _ in found}


def test_fields_beyond_a_nodes_type_are_kept_as_given() -> None:
    """Unknown fields inside a node are the step's own: valid, and never altered."""
    config = order(nodes={"t": {"type": "trigger", "x-owner": {"team": "payments"}}}, triggerNodeIds=["t"])
    before = json.dumps(config)
    workflow.validate(config)
    assert json.dumps(config) == before


def test_summary_counts_nodes_and_triggers() -> None:
    """nodeCount and triggerCount, best effort on a broken config."""
    assert workflow.summary(ORDER) == {"nodeCount": 5, "triggerCount": 2}
    assert workflow.summary({"nodes": [], "triggerNodeIds": "x"}) == {"nodeCount": 0, "triggerCount": 0}

"""The kinds of flow: decision flows, policies, workflows (docs/contract.md §4).

Each kind is one module here with the same small set of functions (`Rules`):
validate a config, the default draft, the publishability rule, the version
summary, the JSON Schema of its configs. What the store, the journal and the
CLI need to know of a kind *without* validating anything is in its `Kind`
entry below, so reading a flow never imports a validator (and never pydantic):
`rules()` imports a kind's module on first use.

A fourth kind is one new module with those functions and one entry in `KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol, cast

from ..errors import BadInput


class Rules(Protocol):
    """The functions every kind module defines."""

    def validate(self, config: object) -> None:
        """Raise BadInput (schema, exit 2) or InvalidConfig (structural, exit 5)
        listing every problem with its path; never modify the config."""

    def default_draft(self) -> dict[str, Any]:
        """The draft of a new flow of the kind (a fresh object on every call)."""

    def check_publishable(self, config: object) -> None:
        """Raise InvalidConfig (exit 5) when the draft cannot be published."""

    def summary(self, config: dict[str, Any]) -> dict[str, Any]:
        """The version summary stored with each version (`Kind.columns` names its fields)."""

    def config_schema(self) -> dict[str, Any]:
        """The JSON Schema of the kind's configs, generated from its models."""


class Kind(NamedTuple):
    """What is known of a kind without importing its validator (a NamedTuple, not
    a dataclass: every command reads this, and importing dataclasses costs ~1 ms)."""

    name: str
    module: str
    noun: str
    """How messages name a flow of the kind: `policy 'loan-approval'`."""
    rollback: Literal["append", "swap"]
    """`append`: a rollback publishes the target's config as version latest+1;
    `swap`: it makes the target the active version and writes no snapshot."""
    columns: tuple[tuple[str, str], ...]
    """(summary field, column title) for the `versions` table."""
    head_fields: Mapping[str, Any] = MappingProxyType({})
    """Fields only this kind's heads carry, after `status`, with their defaults."""
    source_field: str | None = None
    """A config field holding text (a policy's source): `edit` opens it as text,
    `diff --format unified` diffs its lines."""
    suffix: str = ".json"
    """The suffix of the file `edit` opens."""


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("decision-flow", "decision_flow", "flow", "append",
             (("nodeCount", "NODES"), ("scoringMethod", "SCORING"))),
        Kind("policy", "policy", "policy", "swap",
             (("moduleName", "MODULE"), ("functionName", "FUNCTION")),
             source_field="source", suffix=".aster"),
        Kind("workflow", "workflow", "workflow", "append",
             (("nodeCount", "NODES"), ("triggerCount", "TRIGGERS")),
             head_fields=MappingProxyType({"pausedReason": None})),
    )
}
DEFAULT_KIND = "decision-flow"

#: Why a workflow was paused: the workflow API's enum (docs/contract.md §4.8).
PAUSED_REASONS = ("manual", "consecutive_failures", "error_rate", "budget_exceeded", "dependency_unavailable")


def kind(name: str) -> Kind:
    """The kind called `name`; BadInput (exit 2) naming the kinds there are."""
    found = KINDS.get(name)
    if found is None:
        raise BadInput(f"kind {name!r} is not one of {', '.join(KINDS)}", hint="give --kind one of them")
    return found


def rules(name: str) -> Rules:
    """The validating functions of the kind `name` (its module, imported now)."""
    return cast(Rules, importlib.import_module(f"{__name__}.{kind(name).module}"))


def of(record: dict[str, Any]) -> str:
    """The kind of a head or snapshot: snapshots written before kinds existed
    have no `kind` field and are decision flows."""
    return str(record.get("kind", DEFAULT_KIND))

"""The schema layer of decision-flow configs: pydantic models, and pydantic's
errors turned into problems a person can read (`nodes[3].config.topN: …`).

Imported only where a config is validated (create, update, publish), never
on the read paths: pydantic and its models cost ~100 ms of start-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

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


class ScoreSettings(_Model):
    """The settings object of a score node or of the `stages.scoring` stage."""

    method: str = Field(default_factory=_absent)


class Node(_Model):
    """A v2 node of any type."""

    id: str
    type: str
    config: dict[str, Any] = Field(default_factory=_absent)
    data: dict[str, Any] = Field(default_factory=_absent)


class _ScoreNode(Node):
    """A v2 node of type `score`: its settings carry the scoring method."""

    # Narrower than the base's dict on purpose: pydantic validates a score node's settings.
    config: ScoreSettings = Field(default_factory=_absent)  # type: ignore[assignment]
    data: ScoreSettings = Field(default_factory=_absent)  # type: ignore[assignment]


class _Edge(_Model):
    source: str
    target: str


class _V2Stages(_Model):
    """v2 `stages` metadata: free-form, except the one value the code reads.

    `stages.scoring.method` is the fallback scoring method of a v2 pipeline,
    so it is type-checked like in v1; everything else is kept as given.
    """

    scoring: ScoreSettings = Field(default_factory=_absent)


class V2Config(_Model):
    """Top level of a v2 pipeline; nodes are validated one by one afterwards."""

    version: StrictInt = Field(default_factory=_absent)
    # Each node is checked by `node_model(node)` so a score node gets its
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
    scoring: ScoreSettings = Field(default_factory=_absent)
    ranking: dict[str, Any] = Field(default_factory=_absent)
    filtering: dict[str, Any] = Field(default_factory=_absent)


class V1Config(_Model):
    """Top level of a v1 (fixed-stage) pipeline."""

    version: StrictInt = Field(default_factory=_absent)
    stages: _V1Stages

    @field_validator("version")
    @classmethod
    def _version_is_1(cls, value: int) -> int:
        if value != 1:
            raise PydanticCustomError("version", "must be 1 or 2")
        return value


def node_model(node: Any) -> type[Node]:
    if isinstance(node, dict) and node.get("type") == "score":
        return _ScoreNode
    return Node


class _V2Document(V2Config):
    """V2Config with its nodes typed, for the published JSON Schema only
    (validation checks nodes one by one, so every node's errors are shown)."""

    nodes: list[Node]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a decision-flow config: a v2 pipeline or a v1 one."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(_V2Document | V1Config).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "flowctl decision-flow config", **schema}

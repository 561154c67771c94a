"""The schema layer of decision-flow configs: pydantic models, and pydantic's
errors turned into problems a person can read (`nodes[3].config.topN: …`).

Imported only where a config is validated (create, update, publish), never
on the read paths: pydantic and its models cost ~100 ms of start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .errors import Problem

# Long offending values (a whole node, say) are cut so one problem stays one line.
_MAX_SHOWN = 80

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

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


# --------------------------------------------------------------------------
# Rendering problems.
# --------------------------------------------------------------------------


def show_value(value: Any) -> str:
    """The offending value, JSON-style (strings quoted, true, null), one short line."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def json_path(loc: Iterable[int | str]) -> str:
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


def schema_problems(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    """Turn pydantic's errors into problems with readable paths and messages."""
    return [problem for _, problem in located_problems(exc, prefix)]


def located_problems(
    exc: ValidationError, prefix: tuple[int | str, ...] = ()
) -> list[tuple[tuple[int | str, ...], Problem]]:
    """Like `schema_problems`, each problem paired with its pydantic location."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        kind = err["type"]
        if kind == "missing":
            message = "field required"
        elif kind == "extra_forbidden":
            # Only the v1 `stages` object forbids extra keys.
            message = f"unknown stage {show_value(loc[-1])} (expected one of {', '.join(V1_STAGES)})"
        else:
            base = _TYPE_MESSAGES.get(kind) or _lower_first(err["msg"])
            message = f"{base} ({show_value(err['input'])})"
        problems.append((loc, Problem(json_path(loc), message)))
    return problems


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def count_problems(n: int) -> str:
    return f"{n} problem" if n == 1 else f"{n} problems"

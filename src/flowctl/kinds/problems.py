"""What every kind's validator shares: readable paths and values, pydantic's
errors turned into problems, and the two-layer rule for raising them.

Every kind validates in two layers and reports all findings at once
(docs/contract.md §4): *schema* problems (wrong types, missing fields, values
outside an enum) are exit 2; *structural* problems (a dangling reference, a
cycle, a duplicate name) are exit 5 when they are the only ones. Stdlib only:
pydantic's ValidationError is only named for type checkers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, FlowctlError, InvalidConfig, Problem

if TYPE_CHECKING:
    from pydantic import ValidationError

#: Path label used for problems about the config as a whole.
ROOT_PATH = "$"

# Long offending values (a whole node, say) are cut so one problem stays one line.
_MAX_SHOWN = 80

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_TYPE_MESSAGES = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
}


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


def located_problems(
    exc: ValidationError,
    prefix: tuple[int | str, ...] = (),
    unknown: Callable[[str | int], str] = lambda key: f"unknown field {show_value(key)}",
) -> list[tuple[tuple[int | str, ...], Problem]]:
    """pydantic's errors as problems with readable paths, each paired with its
    location; `unknown` words the message for a key a closed model forbids."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        kind = err["type"]
        if kind == "missing":
            message = "field required"
        elif kind == "extra_forbidden":
            message = unknown(loc[-1])
        elif kind == "literal_error":
            message = f"{_lower_first(err['msg'])} ({show_value(err['input'])})"
        else:
            base = _TYPE_MESSAGES.get(kind) or _lower_first(err["msg"])
            message = f"{base} ({show_value(err['input'])})"
        problems.append((loc, Problem(json_path(loc), message)))
    return problems


def schema_problems(exc: ValidationError, prefix: tuple[int | str, ...] = (), **options: Any) -> list[Problem]:
    """Like `located_problems`, without the locations."""
    return [problem for _, problem in located_problems(exc, prefix, **options)]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def count_problems(n: int) -> str:
    return f"{n} problem" if n == 1 else f"{n} problems"


def raise_problems(schema: list[Problem], structural: list[Problem]) -> None:
    """Raise what was found: BadInput (exit 2) when any schema problem is among
    them, InvalidConfig (exit 5) when only structural ones are; nothing when none."""
    problems = schema + structural
    if not problems:
        return
    message = f"config is not valid ({count_problems(len(problems))}): fix them and retry"
    if schema:
        raise BadInput(message, problems)
    raise InvalidConfig(message, problems)


def check_stored_draft(validate: Callable[[object], None], config: object) -> None:
    """`validate` for a draft about to be published: a stored draft that does
    not validate is an invalid draft, not bad input, so every failure is
    InvalidConfig (exit 5) with the same problems."""
    try:
        validate(config)
    except FlowctlError as exc:
        raise InvalidConfig(
            f"draft is not valid ({count_problems(len(exc.problems))}): fix them and publish again",
            exc.problems,
        ) from exc

"""The policy kind's rules (docs/contract.md §4.7): each validation rule with a
failing case and its `source:LINE:COLUMN`, the summary, the default draft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowctl.errors import BadInput, FlowctlError, InvalidConfig
from flowctl.kinds import policy

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
LOAN = (EXAMPLES / "loan-approval.aster").read_text(encoding="utf-8")


def problems(config: Any) -> tuple[type[FlowctlError], list[tuple[str, str]]]:
    """The error class and (path, message) pairs validate raises for `config`."""
    with pytest.raises(FlowctlError) as caught:
        policy.validate(config)
    return type(caught.value), [(p.path, p.message) for p in caught.value.problems]


def test_the_example_policy_validates() -> None:
    """docs/examples/loan-approval.aster, the README's policy, is valid as given."""
    policy.validate({"source": LOAN, "locale": "en-US"})
    policy.validate({"source": LOAN})  # locale is optional


def test_the_default_draft_is_valid_and_publishable() -> None:
    """A new policy can be published at once, and each call gives a fresh object."""
    draft = policy.default_draft()
    policy.check_publishable(draft)
    draft["source"] = ""
    assert policy.default_draft()["source"]


@pytest.mark.parametrize(("config", "path", "fragment"), [
    ({}, "source", "field required"),
    ({"source": 42}, "source", "must be a string"),
    ({"source": "  \n\t\n"}, "source", "must not be empty"),
    ({"source": LOAN, "locale": "english"}, "locale", "language tag"),
    ({"source": LOAN, "locale": 7}, "locale", "language tag"),
    ({"source": LOAN, "sorce": "typo"}, "sorce", "unknown field"),
])
def test_schema_problems_are_exit_2(config: dict[str, Any], path: str, fragment: str) -> None:
    """Types, required and unknown fields: BadInput (exit 2) with the field's path."""
    kind, found = problems(config)
    assert kind is BadInput
    assert any(where == path and fragment in message for where, message in found), found


@pytest.mark.parametrize(("source", "path", "fragment"), [
    ("Rule isEligible given x:\n  Return true.\n", "source:1:1", "first line must declare the module"),
    ("\n\n  Rules first.\nRule a given x:\n", "source:3:3", "first line must declare the module"),
    ("Module Loan-Approval.\nRule a given x:\n", "source:1:8", "module declaration"),
    ("Module Loan.Approval\nRule a given x:\n", "source:1:8", "module declaration"),
    ("Module Loan.\n\nRule 9lives given x:\n", "source:3:6", "rule header"),
    ("Module Loan.\n\nRule isEligible given x\n  Return true.\n", "source:3:24", 'ends with ":"'),
    ("Module Loan.\n\nThere is no rule here.\n", "source:3:23", "no rule"),
    ("Module Loan.\nRule a given x:\nModule Other.\n", "source:3:1", "second module"),
])
def test_outline_problems_are_exit_5_at_line_and_column(source: str, path: str, fragment: str) -> None:
    """The Module line and Rule headers: InvalidConfig (exit 5) at source:LINE:COLUMN (1-based)."""
    kind, found = problems({"source": source})
    assert kind is InvalidConfig
    assert any(where == path and fragment in message for where, message in found), found


def test_every_problem_is_reported_at_once() -> None:
    """A bad module line, a bad rule header and a bad locale: all three in one error."""
    kind, found = problems({"source": "Module 1x.\nRule ok given a\nRule 2 given b:\n", "locale": "?"})
    assert kind is BadInput  # a schema problem among them decides the exit code
    assert [where for where, _ in found] == ["locale", "source:1:8", "source:2:16", "source:3:6"]


def test_an_invalid_stored_draft_cannot_be_published() -> None:
    """Publishing a draft that fails validation is exit 5 whatever the problem's layer."""
    with pytest.raises(InvalidConfig, match="draft is not valid"):
        policy.check_publishable({"source": ""})


def test_summary_names_the_module_and_the_first_rule() -> None:
    """moduleName from the Module line, functionName from the first Rule header."""
    source = "Module Loan.Approval.\n\nRule isEligible given a:\n  x\nRule other given b:\n"
    assert policy.summary({"source": source}) == {"moduleName": "Loan.Approval", "functionName": "isEligible"}
    assert policy.summary({"source": 3}) == {"moduleName": None, "functionName": None}


def test_validation_never_changes_the_config() -> None:
    """What is stored is exactly what was given."""
    config = {"source": LOAN, "locale": "en-GB"}
    before = repr(config)
    policy.validate(config)
    assert repr(config) == before

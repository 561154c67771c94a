"""The policy kind: a policy's config is its source text, Aster CNL
(docs/contract.md §4.7), as the Aster policy API stores it:

    {"source": "Module Loan.Approval.\\n\\nRule isEligible given applicant:\\n  ...", "locale": "en-US"}

Validation is of the text's outline, not of the rules' logic (the policy
engine compiles that): the first non-blank line declares the module
(`Module NAME.`, NAME dotted identifiers), and at least one `Rule NAME …:`
header follows. Each problem is reported at `source:LINE:COLUMN`, as a
compiler would. A rollback of a policy makes the target version active
again without writing a snapshot (`Kind.rollback == "swap"`).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import Problem
from .problems import ROOT_PATH, check_stored_draft, raise_problems, show_value

FIELDS = ("source", "locale")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE = re.compile(rf"Module\s+({_NAME}(?:\.{_NAME})*)\.\s*\Z")
_RULE = re.compile(rf"Rule\s+({_NAME})\b.*:\s*\Z")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\Z")  # BCP 47 tags: en, en-US, zh-Hant-TW


def validate(config: object) -> None:
    """Raise BadInput (a field's type, an unknown field: exit 2) or InvalidConfig
    (the source's outline: exit 5) with every problem at once."""
    raise_problems(*_check(config))


def _check(config: object) -> tuple[list[Problem], list[Problem]]:
    if not isinstance(config, dict):
        return [Problem(ROOT_PATH, f"must be a JSON object ({show_value(config)})")], []
    schema = [Problem(json_key, f"unknown field (a policy has {', '.join(FIELDS)})")
              for json_key in config if json_key not in FIELDS]
    locale = config.get("locale")
    if "locale" in config and not (isinstance(locale, str) and _LOCALE.match(locale)):
        schema.append(Problem("locale", f"must be a language tag such as \"en-US\" ({show_value(locale)})"))
    source = config.get("source")
    if "source" not in config:
        return [Problem("source", "field required: the policy's Aster source text"), *schema], []
    if not isinstance(source, str):
        return [Problem("source", f"must be a string ({show_value(source)})"), *schema], []
    if not source.strip():
        return [Problem("source", "must not be empty: it is the policy's Aster source text"), *schema], []
    if "\x00" in source:
        return [Problem("source", "must not contain a NUL character: it is text"), *schema], []
    return schema, outline_problems(source)


def outline_problems(source: str) -> list[Problem]:
    """The Module line and the Rule headers, each problem at `source:LINE:COLUMN`."""
    lines = source.splitlines()
    problems: list[Problem] = []
    first = next(number for number, line in enumerate(lines) if line.strip())
    module_line = lines[first]
    indent = len(module_line) - len(module_line.lstrip())
    if not module_line.lstrip().startswith("Module"):
        problems.append(_at(first, indent, 'the first line must declare the module: "Module NAME."'))
    elif not _MODULE.match(module_line.strip()):
        problems.append(_at(first, indent + len("Module") + 1,
                            'a module declaration is "Module NAME." (NAME like Loan.Approval, ending in ".")'))
    rules = 0
    for number, line in enumerate(lines[first + 1:], start=first + 1):
        text = line.strip()
        if text.startswith("Module") and _MODULE.match(text):
            problems.append(_at(number, len(line) - len(line.lstrip()), "a second module declaration: "
                                "a policy is one module"))
        if not re.match(r"Rule\b", text):
            continue
        rules += 1
        if not _RULE.match(text):
            column = len(line) - len(line.lstrip())
            name = re.match(rf"Rule\s+{_NAME}\b", text)
            if name is None:
                problems.append(_at(number, column + len("Rule") + 1, 'a rule header is "Rule NAME …:"; '
                                    "NAME is an identifier such as isEligible"))
            else:
                problems.append(_at(number, len(line.rstrip()), 'a rule header ends with ":"'))
    if not rules:
        problems.append(_at(len(lines) - 1, len(lines[-1]), 'no rule: add one after the module line, '
                            '"Rule NAME given …:"'))
    return problems


def _at(line: int, column: int, message: str) -> Problem:
    """A problem at 0-based (line, column), shown 1-based as editors do."""
    return Problem(f"source:{line + 1}:{column + 1}", message)


def default_draft() -> dict[str, Any]:
    """A new policy: one module with one rule that denies."""
    return {"source": "Module Draft.\n\nRule decide given input:\n  Return false.\n", "locale": "en-US"}


def check_publishable(config: object) -> None:
    """A policy publishes when it validates: a module and at least one rule."""
    check_stored_draft(validate, config)


def summary(config: dict[str, Any]) -> dict[str, Any]:
    """`{"moduleName", "functionName"}`: the Module line's name and the first
    Rule's name, as the policy versions endpoint reports them (None when absent)."""
    source = config.get("source") if isinstance(config, dict) else None
    module = function = None
    for line in source.splitlines() if isinstance(source, str) else []:
        text = line.strip()
        if module is None and (found := _MODULE.match(text)):
            module = found.group(1)
        elif found := _RULE.match(text):
            function = found.group(1)
            break
    return {"moduleName": module, "functionName": function}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a policy config, generated from its model."""
    from pydantic import BaseModel, ConfigDict, Field

    class PolicyConfig(BaseModel):
        """A policy: its Aster CNL source and the locale it is written in."""

        model_config = ConfigDict(extra="forbid", title="flowctl policy config")
        source: str = Field(min_length=1, description='Aster CNL: "Module NAME." then "Rule NAME …:" blocks')
        locale: str = Field(default="en-US", pattern="^" + _LOCALE.pattern.removesuffix(r"\Z") + "$",
                            description="the language tag the source is written in")

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **PolicyConfig.model_json_schema()}

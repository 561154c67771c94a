"""The kinds registry (docs/contract.md §4): one interface per kind, `flowctl
schema KIND` validated with a real JSON Schema validator, and no kind's
validator loaded where it is not needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowctl import kinds
from flowctl.cli.options import KindName
from flowctl.errors import BadInput, InvalidConfig

from conftest import Run, examples, imported_modules, run_process

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
EXAMPLE_CONFIGS = {
    "decision-flow": json.loads((EXAMPLES / "credit-card-nba.json").read_text(encoding="utf-8")),
    "policy": json.loads((EXAMPLES / "loan-approval.json").read_text(encoding="utf-8")),
    "workflow": json.loads((EXAMPLES / "order-fulfilment.json").read_text(encoding="utf-8")),
}
NOT_CONFIGS = {
    "decision-flow": {"nodes": {"a": 1}},
    "policy": {"source": "Module A.\nRule b given c:\n", "locale": 3},
    "workflow": {"nodes": {"a": {"type": "trigger"}}, "triggerNodeIds": [],
                 "variableDefs": [{"name": "v", "type": "date"}]},
}


def test_the_cli_offers_exactly_the_registered_kinds() -> None:
    """--kind's choices are the registry's kinds, so completion and help list them all."""
    assert [choice.value for choice in KindName] == list(kinds.KINDS)


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_every_kind_module_has_the_whole_interface(name: str) -> None:
    """validate, default_draft, check_publishable, summary, config_schema: the default draft
    validates and its summary has exactly the fields the versions table shows."""
    rules = kinds.rules(name)
    draft = rules.default_draft()
    rules.validate(draft)
    assert list(rules.summary(draft)) == [field for field, _ in kinds.kind(name).columns]


@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_schema_accepts_the_example_config_and_rejects_a_bad_one(run: Run, name: str) -> None:
    """`flowctl schema KIND` is a JSON Schema (2020-12) that the README's example passes and a
    config with a schema problem fails, judged by the jsonschema library."""
    result = run("schema", name)
    assert result.exit_code == 0, result.stderr
    schema: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(EXAMPLE_CONFIGS[name])) == []
    assert list(validator.iter_errors(NOT_CONFIGS[name])) != []
    kinds.rules(name).validate(EXAMPLE_CONFIGS[name])  # and flowctl agrees with the schema


def test_schema_needs_no_store_and_refuses_an_unknown_kind(tmp_path: Path) -> None:
    """schema runs anywhere (no flowctl.toml); a kind that does not exist is exit 2."""
    assert json.loads(run_process("schema", "policy", cwd=tmp_path).stdout)["title"] == "flowctl policy config"
    result = run_process("schema", "rulebook", cwd=tmp_path)
    assert result.returncode == 2 and "decision-flow" in result.stderr


def loaded_modules(args: list[str], cwd: Path) -> set[str]:
    """The kind modules (and pydantic) a real `flowctl ARGS` process imported."""
    return {name for name in imported_modules(args, cwd) if name == "pydantic" or name.startswith("flowctl.kinds.")}


def test_reading_any_kind_loads_no_validator(run: Run, store: Path, tmp_path: Path) -> None:
    """show/versions --json of each kind import neither a kind's validator nor pydantic."""
    for key, kind in (("nba", "decision-flow"), ("pol", "policy"), ("wf", "workflow")):
        (tmp_path / f"{key}.json").write_text(json.dumps(EXAMPLE_CONFIGS[kind]), encoding="utf-8")
    for key, kind in (("nba", "decision-flow"), ("pol", "policy"), ("wf", "workflow")):
        run.json("create", key, "--name", key, "--kind", kind, "--config", str(tmp_path / f"{key}.json"))
        run.json("publish", key)
        for args in (["show", key, "--json"], ["versions", key, "--json"]):
            assert loaded_modules(["--store", str(store), *args], cwd=tmp_path) == set(), args


def test_a_decision_flow_publish_loads_only_its_own_kind(run: Run, store: Path, tmp_path: Path) -> None:
    """Publishing a decision flow validates it with its kind and never imports the policy or workflow module."""
    run.json("create", "nba", "--name", "N")
    run.json("update", "nba", "--set", "/nodes/score/config/method=\"propensity\"")
    loaded = loaded_modules(["--store", str(store), "publish", "nba"], cwd=tmp_path)
    assert "flowctl.kinds.decision_flow" in loaded
    assert not loaded & {"flowctl.kinds.policy", "flowctl.kinds.workflow"}


def test_the_readmes_kind_quick_starts_run_as_written(tmp_path: Path) -> None:
    """Every bash block of the README's "Three kinds of flow" runs, as pasted into an empty
    folder with the installed flowctl, and leaves a store that verifies."""
    import os
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Three kinds of flow"):readme.index("## Commands")]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    exe = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{exe}{os.pathsep}{os.environ['PATH']}", "EDITOR": "true"}
    assert run_process("init", cwd=tmp_path).returncode == 0
    for block in blocks:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (block, result.stdout, result.stderr)
    assert run_process("verify", cwd=tmp_path).returncode == 0


def _near_config(kind: str) -> st.SearchStrategy[Any]:
    """Strategies for configs near a kind's example: its fields with arbitrary JSON values and text."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=30))
    values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(
        st.sampled_from(["type", "key", "name", "id", "nodes", "source", "lifetime", "", "root"]), inner,
        max_size=4)), max_leaves=12)
    example = EXAMPLE_CONFIGS[kind]
    fields = st.sampled_from(sorted(example) + ["extra", ""])
    source_lines = st.lists(st.sampled_from(["Module A.", "Module A.B", "Rule r given x:", "Rule 9 x:", "Rule r",
                                             "", "  Return 1.", "Module", "\t", "Module A.\r"]), max_size=6)
    return st.one_of(
        values,
        st.dictionaries(fields, values, max_size=5),
        st.builds(lambda patch: {**example, **patch}, st.dictionaries(fields, values, max_size=3)),
        source_lines.map(lambda lines: {"source": "\n".join(lines)}),
    )


@pytest.mark.fuzz
@pytest.mark.parametrize("name", list(kinds.KINDS))
def test_validation_of_any_json_is_one_of_two_errors_or_none(name: str) -> None:
    """Whatever JSON a config is, a kind's validate either accepts it, or raises BadInput (exit 2) or
    InvalidConfig (exit 5) with at least one problem; check_publishable then decides the same way; the
    summary never fails; nothing is mutated."""
    rules = kinds.rules(name)

    @settings(max_examples=examples(300), deadline=None)
    @given(_near_config(name))
    def check(config: Any) -> None:
        before = json.dumps(config, sort_keys=True)
        try:
            rules.validate(config)
            valid = True
        except (BadInput, InvalidConfig) as exc:
            assert exc.problems, exc.message
            valid = False
        if isinstance(config, dict):
            assert isinstance(rules.summary(config), dict)
        if valid and name != "decision-flow":  # a decision flow also needs a scoring method
            rules.check_publishable(config)
        assert json.dumps(config, sort_keys=True) == before

    check()

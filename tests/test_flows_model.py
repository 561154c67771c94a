"""A hypothesis state machine drives create/update/publish/rollback/delete in
random order through the core (`flowctl.flows.Flows`, what every command
calls) and compares the store with a small in-memory model after every step.

Besides the operations it also cuts releases short the way a kill would
(right before the snapshot's link, leaving the audit line written ahead; or
right after it, leaving head and index behind), and runs `verify --repair`:
readers must show the cut-off release wholly done or wholly absent at once,
the next write on the flow must finish the recovery, and `verify` must find
nothing but what `--repair` fixes in the meantime.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from flowctl import journal
from flowctl.errors import Conflict, FlowctlError, InvalidConfig, NotFound
from flowctl.flows import Flows
from flowctl.kinds import decision_flow as pipeline
from flowctl.releases import Release
from flowctl.repair import repair
from flowctl.store import Store
from flowctl.verify import Verifier

from conftest import examples, scored

KEYS = ("alpha", "beta", "gamma")
NAMES = ("Alpha", "Beta")
CONFIGS = (
    scored(top_n=1),
    scored(top_n=2),
    scored(top_n=3, method="churn"),
    {"version": 2, "nodes": [{"id": "s", "type": "score", "config": {"method": "m"}}]},
)
DEFAULT = pipeline.default_draft()  # has no scoring method: cannot be published
STEPS = {"count": 0}


class Crash(BaseException):
    """Stands for a kill: nothing in flowctl catches it."""


@dataclass
class Model:
    """What a flow should look like."""

    name: str
    status: str
    draft: dict[str, Any]
    description: str = ""
    row_version: int = 1
    active: int | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)  # {config, notes, source}
    actions: list[str] = field(default_factory=lambda: ["create"])
    dirty: bool = False  # a cut-off release not yet recovered by a write or repair


class FlowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="flowctl-stateful-"))
        self.root = Store.init(self.tmp / "store")
        self.flows = Flows(Store.open(self.root), "default", "tester", lock_timeout=5)
        self.model: dict[str, Model] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ---------------------------------------------------------------

    def _expect(self, error: type[FlowctlError] | None, call: Callable[[], Any]) -> Any:
        STEPS["count"] += 1
        if error is None:
            return call()
        with pytest.raises(error):
            call()
        return None

    def _reached_lock(self, key: str) -> None:
        """A write that got past the flow's lock ran recovery first."""
        if key in self.model:
            self.model[key].dirty = False

    def _release_outcome(self, key: str, op: str, version: int | None) -> tuple[type[FlowctlError] | None, Any]:
        """(expected error, (config, notes, source)) of a publish or rollback."""
        flow = self.model.get(key)
        if flow is None:
            return NotFound, None
        if op == "publish":
            if pipeline.scoring_method(flow.draft) is None:
                return InvalidConfig, None
            return None, (flow.draft, "published", {"action": "publish"})
        if flow.active is None:
            return NotFound, None
        if version is None:
            if flow.active <= 1:
                return NotFound, None
            version = flow.active - 1
        if version == flow.active:
            return Conflict, None
        if not 1 <= version <= len(flow.versions):
            return NotFound, None
        target = flow.versions[version - 1]["config"]
        if target == flow.versions[flow.active - 1]["config"]:
            return Conflict, None
        source = {"action": "rollback", "restoredVersion": version, "previousVersion": flow.active}
        return None, (target, f"Rollback to v{version}", source)

    # -- rules -------------------------------------------------------------------

    def _key(self, data: st.DataObject, existing: bool = True) -> str:
        """Mostly a key the model has (or, for create, lacks); now and then any key."""
        pool = sorted(self.model) if existing else sorted(set(KEYS) - set(self.model))
        if pool and data.draw(st.integers(0, 9), label="usual") > 0:
            return data.draw(st.sampled_from(pool), label="key")
        return data.draw(st.sampled_from(KEYS), label="key")

    @initialize(first=st.sampled_from(range(len(CONFIGS))), second=st.sampled_from(range(len(CONFIGS))))
    def start_with_a_released_flow(self, first: int, second: int) -> None:
        """A flow with two releases, so rollbacks have somewhere to go."""
        self.create_flow(KEYS[0], NAMES[0], "draft", first)
        for config in (first, second):
            self.do_update(KEYS[0], None, None, config, "none")
            self.do_release(KEYS[0], "publish", None, "none", None)

    @rule(data=st.data(), name=st.sampled_from(NAMES),
          status=st.sampled_from(("draft", "draft", "paused", "archived", "active")),
          config=st.sampled_from((None, *range(len(CONFIGS)))))
    def create(self, data: st.DataObject, name: str, status: str, config: int | None) -> None:
        self.create_flow(self._key(data, existing=False), name, status, config)

    def create_flow(self, key: str, name: str, status: str, config: int | None) -> None:
        draft = DEFAULT if config is None else CONFIGS[config]
        call = lambda: self.flows.create(key, name=name, status=status, config=copy.deepcopy(draft))  # noqa: E731
        if status == "active":
            self._expect(InvalidConfig, call)
        elif key in self.model:
            self._expect(Conflict, call)
        else:
            self._expect(None, call)
            self.model[key] = Model(name=name, status=status, draft=copy.deepcopy(draft))

    @rule(data=st.data(), name=st.none() | st.sampled_from(NAMES),
          status=st.none() | st.sampled_from(("draft", "paused", "archived", "active")),
          config=st.none() | st.sampled_from(range(len(CONFIGS))),
          row=st.sampled_from(("none", "right", "wrong")))
    def update(self, data: st.DataObject, name: str | None, status: str | None, config: int | None,
               row: str) -> None:
        self.do_update(self._key(data), name, status, config, row)

    def do_update(self, key: str, name: str | None, status: str | None, config: int | None, row: str) -> None:
        flow = self.model.get(key)
        draft = None if config is None else copy.deepcopy(CONFIGS[config])
        row_version = None if row == "none" or flow is None else flow.row_version + (row == "wrong")
        call = lambda: self.flows.update(key, name=name, status=status, config=draft,  # noqa: E731
                                         row_version=row_version)
        if flow is None:
            self._expect(NotFound, call)
            return
        self._reached_lock(key)
        if row == "wrong":
            self._expect(Conflict, call)
            return
        changes = {k: v for k, v in (("name", name), ("status", status), ("draft", draft))
                   if v is not None and v != getattr(flow, k)}
        if changes.get("status") == "active" and flow.active is None:
            self._expect(InvalidConfig, call)
            return
        head = self._expect(None, call)
        if changes:
            for k, v in changes.items():
                setattr(flow, k, v)
            flow.row_version += 1
            flow.actions.append("update")
        assert head["rowVersion"] == flow.row_version

    @rule(data=st.data(), op=st.sampled_from(("publish", "rollback", "rollback")),
          row=st.sampled_from(("none", "none", "right", "wrong")),
          cut=st.sampled_from((None, "before-commit", "after-commit")),
          new_draft=st.none() | st.sampled_from(range(len(CONFIGS))))
    def release(self, data: st.DataObject, op: str, row: str, cut: str | None, new_draft: int | None) -> None:
        key = self._key(data)
        if op == "publish" and new_draft is not None and key in self.model:
            self.do_update(key, None, None, new_draft, "none")  # the usual edit, then publish
        flow = self.model.get(key)
        published = len(flow.versions) if flow else 0
        if published >= 2 and data.draw(st.integers(0, 3), label="usual version") > 0:
            version: int | None = data.draw(st.sampled_from((None, *range(1, published + 1))), label="version")
        else:
            version = data.draw(st.none() | st.integers(0, published + 2), label="version")
        self.do_release(key, op, version, row, cut)

    def do_release(self, key: str, op: str, version: int | None, row: str, cut: str | None) -> None:
        flow = self.model.get(key)
        row_version = None if row == "none" or flow is None else flow.row_version + (row == "wrong")
        call: Callable[[], Release]
        if op == "publish":
            call = lambda: self.flows.publish(key, notes="published", row_version=row_version)  # noqa: E731
        else:
            call = lambda: self.flows.rollback(key, version=version, row_version=row_version)  # noqa: E731
        error, outcome = self._release_outcome(key, op, version)
        if flow is not None:
            self._reached_lock(key)
            if row == "wrong":
                error = Conflict
        if error is not None or cut is None:
            result = self._expect(error, call)
        else:
            STEPS["count"] += 1
            STEPS["cuts"] = STEPS.get("cuts", 0) + 1
            with self._cut(key, cut), pytest.raises(Crash):
                call()
            result = None
        if error is not None or cut == "before-commit":
            return
        config, notes, source = outcome
        assert flow is not None
        flow.versions.append({"config": copy.deepcopy(config), "notes": notes, "source": source})
        flow.active = len(flow.versions)
        flow.draft = copy.deepcopy(config)
        flow.status = "active"
        flow.row_version += 1
        flow.actions.append(source["action"])
        flow.dirty = cut is not None
        if result is not None:
            assert result.snapshot["version"] == flow.active

    def _cut(self, key: str, where: str) -> Any:
        """Patch the protocol so the release stops where a kill would stop it."""
        self.flows.store.flow_files("default", key)
        len(self.model[key].versions) + 1
        self.model[key].dirty = True
        if where == "before-commit":
            # Everything up to the commit is written (audit intent, index line,
            # staged files); the snapshot's link never happens, and nothing is
            # taken back (a kill runs no handler).
            def keep_everything(tx: Any, exc_type: Any, *rest: Any) -> None:
                assert exc_type is Crash

            return mock.patch.multiple(journal, link_snapshot=mock.Mock(side_effect=Crash),
                                       _Transaction=type("Killed", (journal._Transaction,),
                                                         {"__exit__": keep_everything}))
        # The snapshot is linked: killed before the head is replaced.
        return mock.patch.object(journal, "_after_commit", mock.Mock(side_effect=Crash))

    @rule(data=st.data(), row=st.sampled_from(("none", "right", "wrong")))
    def delete(self, data: st.DataObject, row: str) -> None:
        if data.draw(st.integers(0, 2), label="delete this time") > 0:
            return  # deleting less often than the other rules keeps histories long enough
        if len(self.model) > 1 or data.draw(st.integers(0, 3), label="delete the last flow") == 0:
            key = self._key(data)
        else:
            key = data.draw(st.sampled_from(sorted(set(KEYS) - set(self.model))), label="key")
        flow = self.model.get(key)
        row_version = None if row == "none" or flow is None else flow.row_version + (row == "wrong")
        call = lambda: self.flows.delete(key, row_version=row_version)  # noqa: E731
        if flow is None:
            self._expect(NotFound, call)
        elif row == "wrong":
            self._reached_lock(key)
            self._expect(Conflict, call)
        else:
            self._expect(None, call)
            del self.model[key]

    @precondition(lambda self: any(flow.dirty for flow in self.model.values()))
    @rule()
    def verify_repair(self) -> None:
        STEPS["count"] += 1
        repair(self.flows.store, "default", None, 5)
        for flow in self.model.values():
            flow.dirty = False

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        page = self.flows.list(limit=1000)
        assert sorted(head["key"] for head in page.flows) == sorted(self.model)
        for key, flow in self.model.items():
            head, entries = self.flows.versions(key)
            assert (head["name"], head["status"], head["description"]) == (flow.name, flow.status, flow.description)
            assert json.dumps(head["draftConfig"]) == json.dumps(flow.draft)
            assert head["activeVersion"] == flow.active
            assert head["latestVersion"] == len(flow.versions)
            assert head["rowVersion"] == flow.row_version
            assert [entry["version"] for entry in entries] == list(range(1, len(flow.versions) + 1))
            for entry, expected in zip(entries, flow.versions, strict=False):
                assert (entry["notes"], entry["source"]) == (expected["notes"], expected["source"])
            for number, expected in enumerate(flow.versions, start=1):
                assert self.flows.config(key, number) == expected["config"]
            audit = self.flows.history(key)
            assert [line["action"] for line in audit] == flow.actions
            assert [line["rowVersion"] for line in audit] == list(range(1, flow.row_version + 1))

    @invariant()
    def verify_finds_only_what_repair_fixes(self) -> None:
        findings = Verifier(self.flows.store, "default").check_tenant()
        if any(flow.dirty for flow in self.model.values()):
            assert all("--repair" in finding.problem for finding in findings), findings
        else:
            assert findings == [], findings


FlowMachine.TestCase.settings = settings(
    max_examples=examples(40), stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.fuzz
def test_store_matches_model() -> None:
    """Random create/update/publish/rollback/delete sequences (with releases cut
    short and repairs) keep the store equal to the model after every step."""
    from hypothesis.stateful import run_state_machine_as_test

    STEPS.clear()
    STEPS["count"] = 0
    run_state_machine_as_test(FlowMachine, settings=FlowMachine.TestCase.settings)
    print(f"stateful steps checked against the model: {STEPS['count']} "
          f"(releases cut short: {STEPS.get('cuts', 0)})")

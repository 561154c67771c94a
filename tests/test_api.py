"""The Python read facade (`flowctl.open_store`, `Store`, `Flow`): the README's
example runs as written, each method returns what the matching CLI command
prints, failures are the CLI's errors, and reading a config stays light."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import flowctl
from flowctl.api import Flow, Store, connect, resolve_tenant
from flowctl.cli.common import Settings
from flowctl.flows import Flows

from conftest import Run, flow_dir, scored, write_config

REPO = Path(__file__).resolve().parent.parent
KEY = "credit-card-nba"


@pytest.fixture
def released(run: Run, tmp_path: Path) -> str:
    """Flow credit-card-nba as the README's walk-through leaves it: v1 and v2 published,
    then rolled back to v1 (v3), and a draft edit on top; plus an unpublished flow `other`."""
    assert run("create", KEY, "--name", "Credit card NBA").exit_code == 0
    assert run("update", KEY, "--set", '/nodes/score/config/method="scorecard"').exit_code == 0
    assert run("publish", KEY, "-m", "first scorecard").exit_code == 0
    assert run("update", KEY, "--config", write_config(tmp_path / "v2.json", scored(top_n=3))).exit_code == 0
    assert run("publish", KEY, "-m", "top 3").exit_code == 0
    assert run("rollback", KEY, "--version", "1").exit_code == 0
    assert run("update", KEY, "--set", "/nodes/rank/config/topN=7").exit_code == 0
    assert run("create", "other", "--name", "Other", "--status", "paused").exit_code == 0
    return KEY


@pytest.fixture
def store(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's store, found through $FLOWCTL_STORE as a script would find it."""
    monkeypatch.setenv("FLOWCTL_STORE", str(store))
    return store


def readme_example() -> str:
    """The fenced Python block of the README's "Using flowctl from Python" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Using flowctl from Python\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert found, "the section has no ```python block"
    return found.group(1)


# -- the README -------------------------------------------------------------------


def test_readme_example_runs(released: str, store: Path) -> None:
    """The README's example, exactly as written, against a store found by $FLOWCTL_STORE."""
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().splitlines() == [
        "Credit card NBA - active version 3",
        "nodes: ['source', 'qualify', 'score', 'rank', 'output']",
        "v1 by tester: first scorecard",
        "v2 by tester: top 3",
        "v3 by tester: Rollback to v1",
        "credit-card-nba 3",
        "exit 3 - no flow 'no-such-flow' in tenant 'default'",
    ]


# -- start-up -------------------------------------------------------------------------

PROBE = """
import json, sys
import flowctl
after_import = sorted(m for m in sys.modules if m == "flowctl" or m.startswith("flowctl."))
config = flowctl.open_store().get(sys.argv[1]).config("active")
heavy = sorted(m for m in ("typer", "click", "rich", "pydantic", "pydantic_core") if m in sys.modules)
print(json.dumps({"after_import": after_import, "heavy": heavy, "cli": "flowctl.cli" in sys.modules,
                  "nodes": len(config["nodes"])}))
"""


def test_reading_an_active_config_imports_neither_typer_rich_nor_pydantic(released: str, store: Path) -> None:
    """In a fresh interpreter: `import flowctl` loads only the package itself (the names
    are lazy), and open_store/get/config("active") load no CLI and no heavy library."""
    result = subprocess.run([sys.executable, "-c", PROBE, released], capture_output=True, text=True,
                            timeout=60, cwd=store)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {"after_import": ["flowctl"], "heavy": [], "cli": False, "nodes": 5}


def test_public_names() -> None:
    """Every name of __all__ resolves (lazily), the errors are the core's, __version__ stays."""
    for name in flowctl.__all__:
        assert getattr(flowctl, name) is not None
        assert name in dir(flowctl)
    assert flowctl.Store is Store and flowctl.Flow is Flow
    assert flowctl.__version__ == "0.1.0"
    from flowctl import errors

    expected = {"BadInput": 2, "NotFound": 3, "Conflict": 4, "InvalidConfig": 5, "Forbidden": 6, "Busy": 7,
                "IntegrityError": 8, "StorageError": 74}
    for name, code in expected.items():
        error = getattr(flowctl, name)
        assert error is getattr(errors, name)
        assert issubclass(error, flowctl.FlowctlError) and error.exit_code == code
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(flowctl, "no_such_name")  # noqa: B009 - the lazy __getattr__ is what is tested


# -- open_store: the CLI's discovery ---------------------------------------------------


def test_open_store_finds_the_store_as_the_cli_does(store: Path, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """`path`, else $FLOWCTL_STORE, else the nearest flowctl.toml upward."""
    assert flowctl.open_store().root == store.resolve()
    assert flowctl.open_store(store).root == store.resolve()
    assert flowctl.open_store(str(store), tenant="t1").tenant == "t1"
    monkeypatch.delenv("FLOWCTL_STORE")
    (store / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(store / "deep" / "er")
    assert flowctl.open_store().root == store.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(flowctl.NotFound) as missing:
        flowctl.open_store()
    assert missing.value.exit_code == 3 and "flowctl init" in missing.value.cli_message()
    with pytest.raises(flowctl.NotFound, match="flowctl init"):
        flowctl.open_store(tmp_path)
    with pytest.raises(flowctl.BadInput):
        flowctl.open_store("")


def test_tenant_is_decided_once(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """argument, else $FLOWCTL_TENANT, else the store's default; empty is bad input (exit 2)."""
    assert flowctl.open_store().tenant == "default"
    monkeypatch.setenv("FLOWCTL_TENANT", "from-env")
    assert flowctl.open_store().tenant == "from-env"
    assert flowctl.open_store(tenant="given").tenant == "given"
    with pytest.raises(flowctl.BadInput) as empty:
        flowctl.open_store(tenant="")
    assert empty.value.exit_code == 2 and "tenant must not be empty" in empty.value.message
    monkeypatch.setenv("FLOWCTL_TENANT", "")
    with pytest.raises(flowctl.BadInput, match="tenant must not be empty"):
        flowctl.open_store()
    with pytest.raises(flowctl.BadInput, match="is not allowed"):
        flowctl.open_store(tenant="../etc")


def test_the_cli_and_open_store_share_one_resolution(run: Run, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings.flows() is the core `Flows`, built by the same function as open_store,
    so an empty tenant fails the same way in both."""
    flows = Settings(tenant="t2", actor="me").flows()
    assert isinstance(flows, Flows)
    assert (flows.tenant, flows.actor, flows.lock_timeout) == ("t2", "me", 10.0)
    assert connect(store).actor == "tester"  # $FLOWCTL_ACTOR, as the CLI
    assert resolve_tenant(flows.store, None) == "default"
    with pytest.raises(flowctl.BadInput) as from_api:
        flowctl.open_store(tenant="")
    result = run("--tenant", "", "list")
    assert result.exit_code == 2
    assert result.stderr == f"flowctl: error: {from_api.value.message}\n"


def test_a_tenant_with_no_flows(released: str, store: Path) -> None:
    """A tenant that has no flows (not even a directory) lists nothing and finds nothing."""
    empty = flowctl.open_store(tenant="nobody-here")
    assert list(empty.list()) == []
    assert empty.page().total == 0
    with pytest.raises(flowctl.NotFound) as missing:
        empty.get(released)
    assert missing.value.exit_code == 3
    # The API's message describes the problem; the command-line advice is the hint.
    assert missing.value.message == f"no flow {released!r} in tenant 'nobody-here'"
    assert missing.value.hint == "see `flowctl list` (or pass --tenant)"
    assert not (store / "flows" / "nobody-here").exists()  # reading creates nothing


# -- Store and Flow: each returns what the CLI prints -------------------------------------


def test_get_by_key_or_id_and_not_found(run: Run, released: str, store: Path) -> None:
    """A key or an id; a missing flow is NotFound with exit_code 3 and the CLI's message."""
    opened = flowctl.open_store()
    flow = opened.get(released)
    assert opened.get(flow.id).head == flow.head
    assert (flow.key, flow.active_version, flow.latest_version) == (released, 3, 3)
    assert flow.head == run.json("show", released)
    with pytest.raises(flowctl.NotFound) as missing:
        opened.get("no-such-flow")
    assert isinstance(missing.value, flowctl.FlowctlError)
    assert missing.value.exit_code == 3
    assert run("show", "no-such-flow").stderr == f"flowctl: error: {missing.value.cli_message()}\n"
    with pytest.raises(flowctl.BadInput):
        opened.get("Bad/Key")
    assert opened.get("other").active_version is None


def test_config(run: Run, released: str, store: Path) -> None:
    """config(): "active", "latest", "draft" or a number; what `show --version` shows."""
    flow = flowctl.open_store().get(released)
    assert flow.config() == flow.config("active") == run.json("show", released, "--version", "active")[
        "configSnapshot"]
    assert flow.config("latest") == flow.config(3) == flow.config(1)
    assert flow.config(2) == scored(top_n=3)
    assert flow.config("draft") == run.json("show", released, "--version", "draft")
    assert flow.config("draft")["nodes"][3]["config"]["topN"] == 7
    unpublished = flowctl.open_store().get("other")
    assert unpublished.config("draft") == run.json("show", "other", "--version", "draft")
    with pytest.raises(flowctl.NotFound, match="has no active version: publish it first") as none:
        unpublished.config("active")
    assert none.value.exit_code == 3
    with pytest.raises(flowctl.NotFound, match=r"has no version 4 \(v1..v3\)"):
        flow.config(4)
    for wrong in ("3", "v3", True, 2.0, None, "nope"):
        with pytest.raises(flowctl.BadInput, match="is not a version number"):
            flow.config(wrong)  # type: ignore[arg-type]


def test_snapshot(run: Run, released: str, store: Path) -> None:
    """snapshot(): a version's full record, as `show --version N --json`."""
    flow = flowctl.open_store().get(released)
    for which in (1, 2, 3, "active", "latest"):
        assert flow.snapshot(which) == run.json("show", released, "--version", str(which))
    assert flow.snapshot(3)["source"] == {"action": "rollback", "restoredVersion": 1, "previousVersion": 2}
    with pytest.raises(flowctl.NotFound):
        flow.snapshot(0)
    with pytest.raises(flowctl.BadInput):
        flow.snapshot("draft")
    with pytest.raises(flowctl.NotFound, match="has no versions: publish it first"):
        flowctl.open_store().get("other").snapshot("latest")


def test_versions_and_their_lines(run: Run, released: str, store: Path) -> None:
    """versions(): the summaries of `versions --json`, oldest first; versions_lines() the
    same as compact JSON lines, from the index or, when it is damaged, the snapshots."""
    flow = flowctl.open_store().get(released)
    printed = run.json("versions", released)
    assert printed == {"flowId": flow.id, "versions": flow.versions()}
    assert [entry["version"] for entry in flow.versions()] == [1, 2, 3]
    assert [json.loads(line) for line in flow.versions_lines()] == flow.versions()
    assert flow.versions_lines() == (flow_dir(store, released) / "versions.jsonl").read_bytes().splitlines()
    (flow_dir(store, released) / "versions.jsonl").write_bytes(b"")
    rebuilt = flowctl.open_store().get(released)
    assert [json.loads(line) for line in rebuilt.versions_lines()] == flow.versions() == rebuilt.versions()
    assert flowctl.open_store().get("other").versions() == []


def test_history(run: Run, released: str, store: Path) -> None:
    """history(): the audit entries oldest first (`history --json` prints them newest first)."""
    flow = flowctl.open_store().get(released)
    entries = flow.history()
    assert entries[::-1] == run.json("history", released)
    assert [entry["action"] for entry in entries] == ["create", "update", "publish", "update", "publish",
                                                      "rollback", "update"]


def test_list_and_page(run: Run, released: str, store: Path) -> None:
    """list(): every head in `list` order, filtered by status; page(): `list --limit --cursor`."""
    assert run("create", "zeta", "--name", "Z").exit_code == 0
    opened = flowctl.open_store()
    heads = list(opened.list())
    assert [head["key"] for head in heads] == [released, "zeta", "other"]
    assert heads == run.json("list")["data"]
    assert [head["key"] for head in opened.list(status="paused")] == ["other"]
    assert list(opened.list(status="archived")) == []
    with pytest.raises(flowctl.BadInput, match="status 'gone' is not one of"):
        opened.list(status="gone")  # raised by the call, before any iteration
    first = opened.page(limit=2)
    assert (first.total, [h["key"] for h in first.flows]) == (3, [released, "zeta"])
    assert first.next_cursor is not None
    rest = opened.page(limit=2, cursor=first.next_cursor)
    assert [h["key"] for h in rest.flows] == ["other"] and rest.next_cursor is None
    assert run.json("list", "--limit", "2", "--cursor", first.next_cursor)["data"] == rest.flows


def test_export(run: Run, released: str, store: Path) -> None:
    """export(): the bundle `flowctl export` writes."""
    bundle = flowctl.open_store().export(released)
    assert bundle == run.json("export", released)
    assert [snapshot["version"] for snapshot in bundle["versions"]] == [1, 2, 3]


def test_a_flow_is_the_flow_as_get_read_it(run: Run, released: str, store: Path) -> None:
    """A publish after `get` shows in the next `get`, not in the Flow already read."""
    opened = flowctl.open_store()
    before = opened.get(released)
    assert run("publish", released, "-m", "topN 7").exit_code == 0
    assert before.latest_version == 3 and len(before.versions()) == 3 and len(before.versions_lines()) == 3
    assert before.config("active") == before.config(3)
    assert len(before.history()) == 7
    after = opened.get(released)
    assert after.active_version == 4 and len(after.versions()) == 4
    assert after.config("active")["nodes"][3]["config"]["topN"] == 7


def test_damage_is_an_integrity_error(run: Run, released: str, store: Path) -> None:
    """A damaged record is the CLI's exit-8 error, never a crash."""
    (flow_dir(store, released) / "flow.json").write_text("{", encoding="utf-8")
    with pytest.raises(flowctl.IntegrityError) as damaged:
        flowctl.open_store().get(released)
    assert damaged.value.exit_code == 8
    assert run("show", released).stderr == f"flowctl: error: {damaged.value.message}\n"


def dumped(record: object) -> str:
    """How every piped --json prints a record: one line, non-ASCII as is."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def spliced(flow: Flow) -> str:
    """How piped `versions --json` prints: the index's own compact lines, spliced."""
    lines = b", ".join(flow.versions_lines()).decode()
    return f'{{"flowId": {json.dumps(flow.id)}, "versions": [{lines}]}}\n'


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["show", KEY, "--json"], lambda f, s: dumped(f.head)),
        (["show", KEY, "--version", "2", "--json"], lambda f, s: dumped(f.snapshot(2))),
        (["show", KEY, "--version", "draft", "--json"], lambda f, s: dumped(f.config("draft"))),
        (["versions", KEY, "--json"], lambda f, s: spliced(f)),
        (["versions", KEY, "--version", "active", "--json"], lambda f, s: dumped(f.snapshot("active"))),
        (["history", KEY, "--json"], lambda f, s: dumped(f.history()[::-1])),
        (["export", KEY, "--json"], lambda f, s: dumped(s.export(KEY))),
        (["list", "--json"], lambda f, s: dumped({
            "data": list(s.list()),
            "pagination": {"total": 2, "limit": 25, "hasMore": False, "nextCursor": None}})),
    ],
)
def test_cli_read_commands_print_the_facade_records(
    run: Run, released: str, store: Path, args: list[str],
    expected: Callable[[Flow, Store], str],
) -> None:
    """The read commands print the facade's records byte for byte."""
    opened = flowctl.open_store()
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected(opened.get(KEY), opened)


def test_versions_json_splices_what_versions_returns(run: Run, released: str, store: Path) -> None:
    """The spliced `versions --json` is the document of versions(), in compact entries."""
    flow = flowctl.open_store().get(KEY)
    assert json.loads(run("versions", KEY, "--json").stdout) == {"flowId": flow.id, "versions": flow.versions()}

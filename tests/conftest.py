"""Shared fixtures: every test gets its own store in tmp_path and a clean,
reproducible environment (fixed clock, fixed actor, no colour)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from typer.testing import CliRunner, Result

from flowctl.cli.app import app

# Hypothesis is deterministic unless asked otherwise: the default profile
# derives every example from the test itself (derandomize) and keeps no
# example database, so a run on an unchanged tree makes the same inputs on
# every machine and a submission never fails on a case it did not touch.
# The long, randomized search is one command away (README, "Tests"):
#   pytest -m fuzz --hypothesis-profile=long
# A case it finds is pinned as an explicit example or regression test.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("long", derandomize=False, database=None, max_examples=2500, print_blob=True)
settings.load_profile(os.environ.get("FLOWCTL_HYPOTHESIS_PROFILE", "deterministic"))


def examples(count: int) -> int:
    """`count` examples under the default profile, scaled up by the long one."""
    return count * max(1, settings.default.max_examples // 100)  # type: ignore[union-attr]  # stub: Optional


EPOCH = "1773585000"  # 2026-03-15T14:30:00Z

PREFIX = "flowctl: error: "
"""How every human-readable error line on stderr starts (docs/contract.md §6)."""

HEAD_FIELDS = [
    "id", "tenantId", "key", "name", "description", "kind", "status", "autoAssembly",
    "draftConfig", "activeVersion", "latestVersion", "rowVersion", "createdAt", "createdBy",
    "updatedAt", "updatedBy",
]
"""The fields of a flow head (flow.json, `show --json`), in docs/contract.md §3 order."""

SNAPSHOT_FIELDS = [
    "flowId", "tenantId", "key", "kind", "version", "publishedAt", "publishedBy", "notes", "source",
    "summary", "configSha256", "configSnapshot",
]
"""The fields of a version snapshot (versions/NNNNNN.json), in docs/contract.md §3 order."""

ENTRY_FIELDS = ["version", "publishedAt", "publishedBy", "notes", "source", "summary"]
"""The fields of one version-index entry (versions.jsonl, `versions --json`), in order."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's store, tenant, actor, colours or clock."""
    for var in ("FLOWCTL_STORE", "FLOWCTL_TENANT", "FLOWCTL_DEBUG", "VISUAL", "EDITOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.setenv("FLOWCTL_ACTOR", "tester")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tmp_path)


class Run:
    """Invoke the real CLI in-process against a store: `run("publish", "f")`."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | bytes | None = None,
                 env: Mapping[str, str | None] | None = None) -> Result:
        return self.runner.invoke(app, ["--store", str(self.store), *args], input=input, env=env)

    def json(self, *args: str, input: str | bytes | None = None) -> Any:
        """Run with --json, assert success, return the parsed stdout."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An initialised, empty store."""
    root = tmp_path / "store"
    result = CliRunner().invoke(app, ["init", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def run(store: Path) -> Run:
    return Run(store)


def write_config(path: Path, config: dict[str, Any]) -> str:
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


def scored(top_n: int = 5, method: str = "propensity") -> dict[str, Any]:
    """A small valid, publishable v2 config; `top_n` makes versions differ."""
    return {
        "version": 2,
        "nodes": [
            {"id": "source", "type": "candidate_source", "config": {}},
            {"id": "score", "type": "score", "config": {"method": method}},
            {"id": "rank", "type": "rank", "config": {"topN": top_n}},
            {"id": "output", "type": "output", "config": {}},
        ],
    }


def publish_series(run: Run, config_dir: Path, key: str, count: int) -> None:
    """Create flow `key` and publish versions 1..count, version i with topN = i and notes
    "release i"; the config files are written to `config_dir`."""
    assert run("create", key, "--name", key).exit_code == 0
    for i in range(1, count + 1):
        cfg = write_config(config_dir / f"{key}-{i}.json", scored(top_n=i))
        assert run("update", key, "--config", cfg).exit_code == 0
        result = run("publish", key, "-m", f"release {i}")
        assert result.exit_code == 0, result.output


PublishVersions = Callable[[str, int], None]
"""The type of the `publish_versions` fixture: `publish_versions(key, count)`."""


@pytest.fixture
def publish_versions(run: Run, tmp_path: Path) -> PublishVersions:
    """Create flow `key` and publish versions 1..n, version i with topN = i."""

    def make(key: str, count: int) -> None:
        publish_series(run, tmp_path, key, count)

    return make


@pytest.fixture
def flow(run: Run, tmp_path: Path) -> str:
    """Flow `f` whose draft is the publishable `scored()` config."""
    assert run("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored())).exit_code == 0
    return "f"


# -- template stores: built once per module, copied for each test ---------------


def build_template(tmp_path_factory: pytest.TempPathFactory, name: str,
                   populate: Callable[[Run, Path], None]) -> Path:
    """Build a store once (for a module-scoped fixture) and return its root.

    Makes `<tmp>/<name>N/store`, initialises it and calls `populate(run, base)`, `base` being
    the folder around the store, free for config files. Runs under the same fixed clock and
    actor that `clean_env` gives every test (module-scoped fixtures cannot use it).
    Pair with `copy_template` in a function-scoped fixture."""
    base = tmp_path_factory.mktemp(name)
    root = base / "store"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        mp.setenv("FLOWCTL_ACTOR", "tester")
        mp.delenv("FLOWCTL_TENANT", raising=False)
        assert CliRunner().invoke(app, ["init", str(root)]).exit_code == 0
        populate(Run(root), base)
    return root


def copy_template(run: Run, template: Path) -> Path:
    """Replace the test's own store (the one `run` points at) with a copy of `template`."""
    shutil.rmtree(run.store)
    shutil.copytree(template, run.store)
    return run.store


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (lock files aside: they carry no state)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


# -- reading the store's files -----------------------------------------------------


def flow_dir(store: Path, key: str, tenant: str = "default") -> Path:
    """The folder holding flow `key` of `tenant`: flows/<tenant>/<key>/."""
    return store / "flows" / tenant / key


def read_head(store: Path, key: str, tenant: str = "default") -> dict[str, Any]:
    """The flow's head, flow.json, parsed."""
    head: dict[str, Any] = json.loads((flow_dir(store, key, tenant) / "flow.json").read_text(encoding="utf-8"))
    return head


def audit_lines(store: Path, key: str, tenant: str = "default") -> list[dict[str, Any]]:
    """The flow's audit log, audit.jsonl, one parsed object a line."""
    text = (flow_dir(store, key, tenant) / "audit.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


# -- checking failures -------------------------------------------------------------


def assert_error(result: Result, code: int, *fragments: str, problems: bool | None = None) -> None:
    """Exit `code`, nothing on stdout, stderr one `flowctl: error:` line (plus indented
    problem lines) naming every one of `fragments`, and no traceback.

    `problems` says what may follow the error line: None (the default) any number of
    indented lines; False none at all; True at least one indented, non-blank problem line.
    When it is True or False, stderr must also end with a newline."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith(PREFIX), result.stderr
    assert all(line.startswith("  ") for line in rest), result.stderr
    if problems is not None:
        assert result.stderr.endswith("\n"), result.stderr
        if problems:
            assert rest and all(line.strip() for line in rest), result.stderr
        else:
            assert not rest, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert "Traceback" not in result.stderr


# -- real processes ----------------------------------------------------------------


_IMPORT_PROBE = """
import json, sys
from flowctl.cli import main
sys.argv = ["flowctl", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("IMPORTED=" + json.dumps(sorted(sys.modules)) + "\\n")
"""


def imported_modules(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """Every module a real `flowctl ARGS` process had imported when it ended."""
    result = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, json.dumps(args)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("IMPORTED=")][-1]
    return set(json.loads(line.removeprefix("IMPORTED=")))


def flowctl_exe() -> str:
    """The installed `flowctl` console script next to this interpreter."""
    candidate = Path(sys.executable).with_name("flowctl")
    return str(candidate) if candidate.exists() else (shutil.which("flowctl") or "flowctl")


def run_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `flowctl` as a real process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([flowctl_exe(), *args], cwd=cwd, env=full_env, input=input,
                          capture_output=True, text=True, timeout=120)

"""Shared fixtures: every test gets its own store in tmp_path and a clean,
reproducible environment (fixed clock, fixed actor, no colour)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowctl.cli import app

EPOCH = "1773585000"  # 2026-03-15T14:30:00Z


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

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
        return self.runner.invoke(app, ["--store", str(self.store), *args], input=input, env=env)

    def json(self, *args: str, input: str | None = None) -> Any:
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


@pytest.fixture
def publish_versions(run: Run, tmp_path: Path) -> Callable[[str, int], None]:
    """Create flow `key` and publish versions 1..n, version i with topN = i."""

    def make(key: str, count: int) -> None:
        assert run("create", key, "--name", key).exit_code == 0
        for i in range(1, count + 1):
            cfg = write_config(tmp_path / f"{key}-{i}.json", scored(top_n=i))
            assert run("update", key, "--config", cfg).exit_code == 0
            result = run("publish", key, "-m", f"release {i}")
            assert result.exit_code == 0, result.output

    return make


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (lock files aside: they carry no state)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


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

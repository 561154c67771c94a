"""The installed `flowctl` as a real process: entry points, store discovery, exit codes
(docs/contract.md §1, §5, §6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from flowctl.cli.app import app

from conftest import Run, run_process, scored, write_config


def test_global_options_after_the_command(store: Path) -> None:
    """Global options may follow the command: `flowctl create f --store S --json --tenant t`."""
    result = run_process("create", "f", "--name", "F", "--store", str(store), "--json", "--tenant", "t")
    assert result.returncode == 0, result.stderr
    head = json.loads(result.stdout)
    assert (head["key"], head["tenantId"], head["rowVersion"]) == ("f", "t", 1)
    shown = run_process("--tenant", "t", "show", "f", "--json", "--store", str(store))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == head


def test_python_dash_m(store: Path) -> None:
    """`python -m flowctl` runs the same CLI: --version, a command, and exit codes."""
    version = subprocess.run([sys.executable, "-m", "flowctl", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("flowctl ")
    missing = subprocess.run([sys.executable, "-m", "flowctl", "--store", str(store), "show", "ghost"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 3
    assert missing.stdout == "" and missing.stderr.startswith("flowctl: error: ")


def test_discovery_from_a_subdirectory(run: Run, store: Path) -> None:
    """Without --store or $FLOWCTL_STORE, the nearest ancestor holding flowctl.toml is the store (like git)."""
    run.json("create", "f", "--name", "F")
    deep = store / "flows" / "default" / "f" / "versions"
    result = run_process("show", "f", "--json", cwd=deep)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["key"] == "f"


def test_nearest_store_wins(run: Run, store: Path) -> None:
    """A store nested inside another directory tree is found before any outer one."""
    inner = store / "nested"
    assert CliRunner().invoke(app, ["init", str(inner)]).exit_code == 0
    run.json("create", "outer-flow", "--name", "O")
    listed = run_process("list", "--json", cwd=inner)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["pagination"]["total"] == 0


def test_store_from_environment_and_precedence(tmp_path: Path, store: Path) -> None:
    """$FLOWCTL_STORE is used when there is no --store, and --store beats it; both beat the working directory."""
    other = tmp_path / "other"
    assert CliRunner().invoke(app, ["init", str(other)]).exit_code == 0
    Run(other).json("create", "in-other", "--name", "X")
    env = {"FLOWCTL_STORE": str(store)}
    created = run_process("create", "in-env", "--name", "E", env=env, cwd=other)
    assert created.returncode == 0, created.stderr
    assert (store / "flows" / "default" / "in-env" / "flow.json").is_file()
    explicit = run_process("list", "--json", "--store", str(other), env=env)
    assert [f["key"] for f in json.loads(explicit.stdout)["data"]] == ["in-other"]


def test_exit_codes_of_the_real_process(run: Run, store: Path, tmp_path: Path) -> None:
    """The process exit status is the docs/contract.md §6 code: 0, 2, 3 (no store, mentions `flowctl init`), 4, 5."""
    s = ["--store", str(store)]
    assert run_process(*s, "create", "f", "--name", "F").returncode == 0
    usage = run_process(*s, "list", "--no-such-option")
    assert usage.returncode == 2 and usage.stderr.startswith("flowctl: error: ")
    assert run_process(*s, "create", "f", "--name", "F").returncode == 4
    no_scoring = run_process(*s, "publish", "f")
    assert no_scoring.returncode == 5 and "no scoring method" in no_scoring.stderr
    run.json("update", "f", "--config", write_config(tmp_path / "c.json", scored()))
    assert run_process(*s, "publish", "f").returncode == 0
    nowhere = run_process("list", cwd=tmp_path)
    assert nowhere.returncode == 3
    assert "flowctl init" in nowhere.stderr and nowhere.stderr.count("\n") == 1
    assert "Traceback" not in usage.stderr + no_scoring.stderr + nowhere.stderr


def test_json_error_from_real_process(store: Path) -> None:
    """With --json the process writes one JSON error object on stderr and nothing on stdout."""
    result = run_process("show", "ghost", "--store", str(store), "--json")
    assert result.returncode == 3
    assert result.stdout == ""
    assert json.loads(result.stderr)["error"]["exit"] == 3


def test_config_from_stdin_of_real_process(store: Path) -> None:
    """`--config -` reads the config from the process's stdin."""
    result = run_process("--store", str(store), "create", "f", "--name", "F", "--config", "-", "--json",
                         input=json.dumps(scored(4)))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["draftConfig"] == scored(4)

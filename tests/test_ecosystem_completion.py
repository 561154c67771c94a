"""Shell completion: the committed scripts match the app, and TAB offers the
store's flow keys, a flow's versions and the options' choices, cheaply."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import Run, flowctl_exe
from flowctl.cli import app
from test_startup import heavy_modules

REPO = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("generate_completions", REPO / "scripts" / "generate_completions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def complete(line: str, **env: str) -> list[str]:
    """What bash completion offers for `line` (the word after its last space is being completed)."""
    words = line.split(" ")
    result = CliRunner().invoke(app, [], prog_name="flowctl", env={
        "_FLOWCTL_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1), **env,
    })
    assert result.exit_code == 0, result.output
    return result.stdout.split()


class TestScripts:
    def test_committed_scripts_match_the_app(self, tmp_path: Path) -> None:
        """Regenerating completions/ gives identical bytes: the committed scripts never drift."""
        generator = _generator()
        written = generator.generate(tmp_path)
        assert {path.name for path in written} == {"flowctl.bash", "_flowctl", "flowctl.fish"}
        for path, data in written.items():
            committed = REPO / "completions" / path.name
            assert committed.read_bytes() == data, f"{committed} is stale: run scripts/generate_completions.py"
        assert generator.stale(REPO / "completions") == []

    def test_check_mode_reports_drift(self, tmp_path: Path) -> None:
        """`--check` fails (exit 1) naming the stale file, so CI can run it too."""
        generator = _generator()
        generator.generate(tmp_path)
        (tmp_path / "_flowctl").write_text("# edited by hand\n")
        assert generator.stale(tmp_path) == ["_flowctl"]

    def test_zsh_script_starts_with_compdef(self) -> None:
        """zsh only autoloads a completion file whose first line is `#compdef`."""
        assert (REPO / "completions" / "_flowctl").read_text().startswith("#compdef flowctl\n")

    def test_show_completion_prints_the_committed_script(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`flowctl --show-completion bash` prints what completions/flowctl.bash holds."""
        monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
        result = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="flowctl")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip("\n") + "\n" == (REPO / "completions" / "flowctl.bash").read_text()

    def test_install_completion_writes_the_shell_config(self, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
        """`flowctl --install-completion bash` installs the script under $HOME."""
        monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
        monkeypatch.setenv("HOME", str(tmp_path))
        result = CliRunner().invoke(app, ["--install-completion", "bash"], prog_name="flowctl")
        assert result.exit_code == 0, result.output
        assert "_FLOWCTL_COMPLETE=complete_bash" in (tmp_path / ".bash_completions" / "flowctl.sh").read_text()
        assert ".bash_completions/flowctl.sh" in (tmp_path / ".bashrc").read_text()


class TestDynamic:
    def test_flow_argument_completes_the_tenants_keys(self, run: Run, store: Path) -> None:
        """FLOW completes to the keys of the store and tenant, filtered by the typed prefix."""
        for key in ("card-a", "card-b", "loan"):
            assert run("create", key, "--name", key).exit_code == 0
        assert run("--tenant", "other", "create", "card-other", "--name", "x").exit_code == 0
        assert complete(f"flowctl --store {store} show ") == ["card-a", "card-b", "loan"]
        assert complete(f"flowctl --store {store} publish car") == ["card-a", "card-b"]
        assert complete(f"flowctl --store {store} --tenant other history ") == ["card-other"]
        # Global options after the command count as well, and $FLOWCTL_STORE is honoured.
        assert complete(f"flowctl delete --tenant other --store {store} ") == ["card-other"]
        assert complete("flowctl show ", FLOWCTL_STORE=str(store)) == ["card-a", "card-b", "loan"]

    def test_version_completes_to_the_flows_versions(self, run: Run, store: Path, publish_versions) -> None:
        """--version completes to the flow's version numbers (newest first), plus the words it accepts."""
        publish_versions("f", 3)
        assert complete(f"flowctl --store {store} rollback f --version ") == ["3", "2", "1"]
        assert complete(f"flowctl --store {store} versions f --version ") == ["3", "2", "1", "active", "latest"]
        assert complete(f"flowctl --store {store} show f --version ") == ["3", "2", "1", "active", "latest", "draft"]
        assert complete(f"flowctl --store {store} show f --version d") == ["draft"]

    def test_version_completion_accepts_a_flow_id(self, run: Run, store: Path, publish_versions) -> None:
        """FLOW given by id works for completion as for every command."""
        publish_versions("f", 2)
        flow_id = run.json("show", "f")["id"]
        assert complete(f"flowctl --store {store} rollback {flow_id} --version ") == ["2", "1"]

    def test_choices_complete(self, store: Path) -> None:
        """--status and --format complete to their choices."""
        assert complete(f"flowctl --store {store} list --status ") == ["active", "draft", "paused", "archived"]
        assert complete(f"flowctl --store {store} list --status a") == ["active", "archived"]
        assert complete(f"flowctl --store {store} show f --format ") == ["json", "toml"]
        assert complete(f"flowctl --store {store} export f --format ") == ["json", "toml"]

    @pytest.mark.parametrize("line", [
        "flowctl show ",                           # no store anywhere
        "flowctl --store /nonexistent show ",      # a store that is not there
        "flowctl --tenant BAD/NAME show ",         # a bad tenant name
        "flowctl rollback missing --version ",     # a flow that does not exist
    ])
    def test_completion_never_fails(self, line: str) -> None:
        """Whatever is wrong, TAB offers nothing and exits 0: no error lands in the command line."""
        assert complete(line) == []

    def test_value_completion_imports_neither_rich_nor_pydantic(self, run: Run, store: Path,
                                                                 publish_versions) -> None:
        """Every TAB pays start-up: completing keys and versions stays on the light path."""
        publish_versions("f", 1)
        for line in ("flowctl show ", "flowctl show f --version ", "flowctl update f --status "):
            env = {**os.environ, "FLOWCTL_STORE": str(store), "_FLOWCTL_COMPLETE": "complete_bash",
                   "COMP_WORDS": line, "COMP_CWORD": str(len(line.split(" ")) - 1)}
            assert heavy_modules([], cwd=store, env=env) == [], line


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_script_completes_in_a_real_shell(run: Run, store: Path, publish_versions) -> None:
    """Sourcing completions/flowctl.bash and pressing TAB (the completion function) offers the keys."""
    publish_versions("credit-card-nba", 2)
    script = f"""
source {REPO / 'completions' / 'flowctl.bash'}
COMP_WORDS=(flowctl show cre); COMP_CWORD=2; _flowctl_completion flowctl; echo "keys: ${{COMPREPLY[*]}}"
COMP_WORDS=(flowctl rollback credit-card-nba --version ''); COMP_CWORD=4; _flowctl_completion flowctl
echo "versions: ${{COMPREPLY[*]}}"
"""
    env = {**os.environ, "FLOWCTL_STORE": str(store),
           "PATH": f"{Path(flowctl_exe()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "keys: credit-card-nba" in result.stdout
    assert "versions: 2 1" in result.stdout


def test_generator_runs_as_a_script(tmp_path: Path) -> None:
    """`python scripts/generate_completions.py --check` passes on the committed tree."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_completions.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_diff_and_verify_complete_too(run: Run, store: Path, publish_versions) -> None:
    """verify [FLOW] completes keys; diff FROM/TO complete versions and the words diff takes."""
    publish_versions("f", 2)
    assert complete(f"flowctl --store {store} verify ") == ["f"]
    assert complete(f"flowctl --store {store} diff f ") == ["2", "1", "draft", "active", "latest"]
    assert complete(f"flowctl --store {store} diff f 1 a") == ["active"]

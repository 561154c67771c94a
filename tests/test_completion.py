"""Shell completion: the committed scripts match the app, and TAB offers the
store's flow keys, a flow's versions and the options' choices, cheaply."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from flowctl.cli import app
from test_startup import heavy_modules

from conftest import PublishVersions, Run, flowctl_exe

REPO = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_completions", REPO / "scripts" / "generate_completions.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
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

    def test_committed_script_is_show_completion_with_the_fixes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """completions/flowctl.bash is what `flowctl --show-completion bash` prints (Typer's
        script) with the generator's fixes applied, and nothing else changed."""
        monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
        result = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="flowctl")
        assert result.exit_code == 0, result.output
        text = result.stdout
        for old, new in _generator().fixes("bash"):
            text = text.replace(old, new)
        assert text.strip("\n") + "\n" == (REPO / "completions" / "flowctl.bash").read_text()

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

    def test_version_completes_to_the_flows_versions(self, run: Run, store: Path,
                                                     publish_versions: PublishVersions) -> None:
        """--version completes to the flow's version numbers (newest first), plus the words it accepts."""
        publish_versions("f", 3)
        assert complete(f"flowctl --store {store} rollback f --version ") == ["3", "2", "1"]
        assert complete(f"flowctl --store {store} versions f --version ") == ["3", "2", "1", "active", "latest"]
        assert complete(f"flowctl --store {store} show f --version ") == ["3", "2", "1", "active", "latest", "draft"]
        assert complete(f"flowctl --store {store} show f --version d") == ["draft"]

    def test_kind_completes_to_the_kinds(self) -> None:
        """--kind (create, update, list) and schema's KIND complete to the three kinds."""
        kinds = ["decision-flow", "policy", "workflow"]
        assert complete("flowctl create f --name F --kind ") == kinds
        assert complete("flowctl list --kind p") == ["policy"]
        assert complete("flowctl schema ") == kinds

    def test_version_completion_accepts_a_flow_id(self, run: Run, store: Path,
                                                  publish_versions: PublishVersions) -> None:
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

    def test_empty_tenant_offers_nothing(self, run: Run, store: Path, publish_versions: PublishVersions) -> None:
        """An empty --tenant or $FLOWCTL_TENANT is bad input to the CLI (exit 2), so completion
        offers nothing for it rather than the default tenant's flows and versions."""
        publish_versions("f", 1)
        assert run("--tenant", "", "list").exit_code == 2
        assert complete(f"flowctl --store {store} --tenant '' show ") == []
        assert complete(f"flowctl --store {store} show f --tenant '' --version ") == []
        assert complete("flowctl show ", FLOWCTL_STORE=str(store), FLOWCTL_TENANT="") == []
        assert complete("flowctl show ", FLOWCTL_STORE=str(store)) == ["f"]  # the default tenant's

    def test_value_completion_imports_neither_rich_nor_pydantic(self, run: Run, store: Path,
                                                                 publish_versions: PublishVersions) -> None:
        """Every TAB pays start-up: completing keys and versions stays on the light path."""
        publish_versions("f", 1)
        for line in ("flowctl show ", "flowctl show f --version ", "flowctl update f --status "):
            env = {**os.environ, "FLOWCTL_STORE": str(store), "_FLOWCTL_COMPLETE": "complete_bash",
                   "COMP_WORDS": line, "COMP_CWORD": str(len(line.split(" ")) - 1)}
            assert heavy_modules([], cwd=store, env=env) == [], line


def test_bash_script_completes_in_a_real_shell(run: Run, store: Path, publish_versions: PublishVersions) -> None:
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


def bash_offers(words: list[str], cwd: Path) -> list[str]:
    """What bash offers on TAB after `words` (the last one being completed), in `cwd`:
    completions/flowctl.bash's function run by a real bash, then what readline adds to it
    by the compspec (`complete -o default` turns an empty answer into the file names)."""
    script = f"""
source {shlex.quote(str(REPO / 'completions' / 'flowctl.bash'))}
COMP_WORDS=({' '.join(shlex.quote(word) for word in words)}); COMP_CWORD={len(words) - 1}
_flowctl_completion flowctl
IFS=$'\\n'
if (( ${{#COMPREPLY[@]}} == 0 )) && [[ $(complete -p flowctl) == *"-o default"* ]]; then
    COMPREPLY=( $(compgen -f -- "${{COMP_WORDS[COMP_CWORD]}}") )
fi
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {**os.environ, "PATH": f"{Path(flowctl_exe()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


@pytest.fixture
def files_here(tmp_path: Path) -> Path:
    """A directory outside any store, holding alpha.json, beta.toml and sub/."""
    here = tmp_path / "here"
    (here / "sub").mkdir(parents=True)
    (here / "alpha.json").write_text("{}")
    (here / "beta.toml").write_text("")
    return here


@pytest.mark.parametrize("words", [
    ["flowctl", "versions", ""],
    ["flowctl", "show", "a"],
    ["flowctl", "rollback", "f", "--version", ""],
])
def test_bash_offers_no_file_names_for_flows_outside_a_store(files_here: Path, words: list[str]) -> None:
    """Outside a store a FLOW or --version has nothing to offer, and bash offers nothing:
    not the file names of the current directory (README, Shell completion)."""
    assert bash_offers(words, files_here) == []


@pytest.mark.parametrize(("words", "offered"), [
    (["flowctl", "update", "f", "--config", ""], ["alpha.json", "beta.toml", "sub"]),
    (["flowctl", "import", "b"], ["beta.toml"]),
    (["flowctl", "init", "s"], ["sub"]),
    # bash splits `@FILE` at the @ (COMP_WORDBREAKS) and completes `@` with what follows.
    (["flowctl", "diff", "f", "@"], ["@alpha.json", "@beta.toml", "@sub"]),
    (["flowctl", "diff", "f", "@", "al"], ["@alpha.json"]),
])
def test_bash_completes_file_names_where_a_file_is_taken(files_here: Path, words: list[str],
                                                         offered: list[str]) -> None:
    """--config FILE, import FILE, init DIR and diff's @FILE still complete file names."""
    assert bash_offers(words, files_here) == offered


@pytest.mark.parametrize(("line", "offered"), [
    ("flowctl versions ", []),
    ("flowctl update f --config ", ["alpha.json", "beta.toml", "sub/"]),
])
def test_fish_offers_file_names_only_where_a_file_is_taken(files_here: Path, line: str,
                                                           offered: list[str]) -> None:
    """fish, like bash, offers no file names for a FLOW outside a store, and keeps them for FILE."""
    script = (f"set -x PATH {shlex.quote(str(Path(flowctl_exe()).parent))} $PATH; "
              f"source {shlex.quote(str(REPO / 'completions' / 'flowctl.fish'))}; complete -C {shlex.quote(line)}")
    result = subprocess.run(["fish", "--no-config", "-c", script], cwd=files_here, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == offered


def test_generator_runs_as_a_script(tmp_path: Path) -> None:
    """`python scripts/generate_completions.py --check` passes on the committed tree."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_completions.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_diff_and_verify_complete_too(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """verify [FLOW] completes keys; diff FROM/TO complete versions and the words diff takes."""
    publish_versions("f", 2)
    assert complete(f"flowctl --store {store} verify ") == ["f"]
    assert complete(f"flowctl --store {store} diff f ") == ["2", "1", "draft", "active", "latest"]
    assert complete(f"flowctl --store {store} diff f 1 a") == ["active"]

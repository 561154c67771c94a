"""-q/--quiet on write commands prints only the essential value, for $(...) in scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Run, scored, write_config


def quiet(run: Run, *args: str) -> str:
    result = run(*args, "-q")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_write_command_prints_one_value(run: Run, tmp_path: Path) -> None:
    """create → key, update → rowVersion, publish/rollback → the new version, delete → key."""
    config = write_config(tmp_path / "c.json", scored())
    assert quiet(run, "create", "credit-card-nba", "--name", "N", "--config", config) == "credit-card-nba\n"
    assert quiet(run, "update", "credit-card-nba", "--set", "/nodes/rank/config/topN=2") == "2\n"
    assert quiet(run, "publish", "credit-card-nba", "-m", "one") == "1\n"
    assert quiet(run, "update", "credit-card-nba", "--set", "/nodes/rank/config/topN=3") == "4\n"
    assert quiet(run, "publish", "credit-card-nba", "--dry-run") == "2\n"
    assert quiet(run, "publish", "credit-card-nba") == "2\n"
    assert quiet(run, "rollback", "credit-card-nba", "--version", "1", "--notes", "v2 mis-scored") == "3\n"
    assert quiet(run, "delete", "credit-card-nba", "--yes", "--quiet") == "credit-card-nba\n"


def test_quiet_import(run: Run, tmp_path: Path) -> None:
    """import -q prints the key it created."""
    assert run("create", "f", "--name", "F").exit_code == 0
    bundle = tmp_path / "f.json"
    bundle.write_text(run("export", "f").stdout)
    assert quiet(run, "--tenant", "t", "import", str(bundle), "--key", "g") == "g\n"


def test_quiet_errors_still_go_to_stderr(run: Run) -> None:
    """Quiet silences the success line, not the error: stdout stays empty."""
    result = run("publish", "missing", "-q")
    assert (result.exit_code, result.stdout) == (3, "")
    assert "flowctl: error:" in result.stderr


def test_quiet_in_a_real_shell_substitution(store: Path) -> None:
    """`v=$(flowctl publish f -q)` gives the number, as scripts use it."""
    import shutil
    import subprocess

    from conftest import flowctl_exe

    if shutil.which("sh") is None:
        pytest.skip("needs sh")
    exe = flowctl_exe()
    script = ('"$F" create f --name F -q >/dev/null && '
              '"$F" update f --set \'/nodes/score/config/method="m"\' -q >/dev/null && '
              'v=$("$F" publish f -q) && echo "published v$v"')
    result = subprocess.run(["sh", "-c", script], env={"F": exe, "FLOWCTL_STORE": str(store), "PATH": "/usr/bin:/bin",
                                                        "SOURCE_DATE_EPOCH": "1773585000", "FLOWCTL_ACTOR": "t"},
                            capture_output=True, text=True, timeout=120)
    assert result.stdout == "published v1\n", result.stderr

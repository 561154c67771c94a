"""Read paths stay light: scripts and every TAB of completion pay start-up,
so they must import neither pydantic nor rich (STYLE: startup is a feature)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PublishVersions, Run

PROBE = """
import json, sys
from flowctl.cli import main
sys.argv = ["flowctl", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("pydantic", "rich", "typing_extensions") if m in sys.modules)
sys.stderr.write("HEAVY=" + json.dumps(heavy) + "\\n")
"""


def heavy_modules(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=60)
    line = [ln for ln in result.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    heavy: list[str] = json.loads(line.removeprefix("HEAVY="))
    return heavy


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["show", "f", "--json"],
        ["show", "f", "--version", "1", "--json"],
        ["versions", "f", "--json"],
        ["list", "--json"],
    ],
)
def test_read_paths_import_neither_pydantic_nor_rich(run: Run, publish_versions: PublishVersions, store: Path,
                                                     args: list[str]) -> None:
    """`show/versions/list --json` and `--version` never load the heavy libraries."""
    publish_versions("f", 2)
    assert heavy_modules(["--store", str(store), *args], cwd=store) == []


def test_publish_does_load_pydantic_for_validation(run: Run, publish_versions: PublishVersions, store: Path) -> None:
    """The probe really sees imports: a publish validates with pydantic."""
    publish_versions("f", 1)
    assert "pydantic" in heavy_modules(["--store", str(store), "publish", "f"], cwd=store)

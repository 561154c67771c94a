"""The benchmark suite runs end to end, so it never rots.

A smoke run builds tiny stores (a few versions, a few flows), runs every case
once through the real installed `flowctl` and writes its JSON. No timing is
asserted here: at this size the ratios mean nothing, and timed assertions in
unit tests only make them flaky.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"

EXPECTED_CASES = {
    "version",
    "show@3", "show@20",
    "versions@3", "versions@20",
    "publish@3", "publish@20",
    "rollback@3", "rollback@20",
    "diff",
    "list",
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One smoke run for the whole module (it takes ~10 s)."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json-out", str(out), "--workdir", str(tmp)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISSED" not in result.stdout, "a smoke run judges no target"
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_smoke_run_measures_every_case(smoke_report: dict[str, Any]) -> None:
    """`run.py --smoke` exits 0 and reports every case with numbers (or why it was skipped)."""
    report = smoke_report
    assert report["smoke"] is True and report["all_met"] is None
    assert report["settings"]["sizes"] == [3, 20]
    for name in ("python", "typer"):
        floor = report["floors"][name]
        assert _is_number(floor["median_ms"]) and _is_number(floor["max_rss_mib"]), floor

    cases = report["cases"]
    assert EXPECTED_CASES <= set(cases), sorted(EXPECTED_CASES - set(cases))
    for key, case in cases.items():
        if case["skipped"]:
            assert case["skipped"] == "command not available", (key, case)
            continue
        assert len(case["samples_ms"]) == 1, (key, case)
        assert _is_number(case["median_ms"]), (key, case)
        assert _is_number(case["median_cpu_ms"]), (key, case)
        assert _is_number(case["max_rss_mib"]), (key, case)
        assert _is_number(case["ratio_to_typer_floor"]), (key, case)

    # Every target names its cases and, unless one of them was skipped, has a ratio.
    assert report["targets"]
    for target in report["targets"]:
        assert target["case"] in cases or target["case"].startswith("floor:"), target
        if target.get("skipped"):
            assert target["ratio"] is None and target["met"] is None, target
        else:
            assert _is_number(target["ratio"]), target


def test_core_cases_are_measured_not_skipped(smoke_report: dict[str, Any]) -> None:
    """The commands most targets are about exist, so their cases are never silently skipped."""
    cases = smoke_report["cases"]
    for key in ("version", "show@3", "versions@20", "publish@20", "rollback@20"):
        assert cases[key]["skipped"] is None, (key, cases[key])

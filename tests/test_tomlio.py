"""TOML both ways: --config/@FILE read .toml, show/export write it; null is
never lost silently (a record's null fields are left out and read back as
null, a null inside a config is refused with its path)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from conftest import Run, scored, write_config


def test_config_round_trip_json_toml_json(run: Run, flow: str, tmp_path: Path) -> None:
    """show --format toml of the draft, read back with --config x.toml, equals the JSON draft."""
    config = {**scored(), "edges": [{"source": "source", "target": "score"}, {"source": "score", "target": "rank"},
                                    {"source": "rank", "target": "output"}],
              "stages": {"labels": ["a", "b"], "owner": {"team": "risk", "since": 2024}, "weight": 0.25}}
    assert run("update", flow, "--config", write_config(tmp_path / "e.json", config)).exit_code == 0
    toml_text = run("show", flow, "--version", "draft", "--format", "toml").stdout
    assert tomllib.loads(toml_text) == config
    path = tmp_path / "draft.toml"
    path.write_text(toml_text)
    assert run("create", "g", "--name", "G", "--config", str(path)).exit_code == 0
    assert run.json("show", "g", "--version", "draft") == config


def test_snapshot_round_trip(run: Run, flow: str) -> None:
    """A version's snapshot as TOML parses to the same record as its JSON."""
    assert run("publish", flow).exit_code == 0
    as_json = run.json("show", flow, "--version", "1")
    as_toml = tomllib.loads(run("show", flow, "--version", "1", "--format", "toml").stdout)
    assert as_toml == as_json


def test_head_null_fields_are_left_out(run: Run, flow: str) -> None:
    """activeVersion is null before the first publish: TOML leaves it out (reading treats absent as null)."""
    result = run("show", flow, "--format", "toml")
    assert result.exit_code == 0
    head = tomllib.loads(result.stdout)
    assert "activeVersion" not in head
    assert {**head, "activeVersion": None} == run.json("show", flow)


def test_null_in_a_config_is_refused_with_its_path(run: Run, tmp_path: Path) -> None:
    """TOML cannot say null: a null inside the config exits 2 naming its path, nothing printed."""
    config = scored()
    config["nodes"][1]["config"]["cutoff"] = None
    assert run("create", "g", "--name", "G", "--config", write_config(tmp_path / "n.json", config)).exit_code == 0
    result = run("show", "g", "--version", "draft", "--format", "toml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "nodes[1].config.cutoff is null" in result.stderr
    assert "--format json" in result.stderr


def test_diff_reads_a_toml_file(run: Run, flow: str, tmp_path: Path) -> None:
    """`diff FLOW draft @x.toml` reads TOML like --config does."""
    path = tmp_path / "next.toml"
    path.write_text(run("show", flow, "--version", "draft", "--format", "toml").stdout.replace("topN = 5", "topN = 8"))
    changes = run.json("diff", flow, "draft", f"@{path}", "--format", "json")["changes"]
    assert changes == [{"op": "replace", "path": "/nodes/rank/config/topN", "old": 5, "new": 8}]


def test_invalid_toml_exits_2(run: Run, flow: str, tmp_path: Path) -> None:
    """A .toml config that does not parse is bad input (exit 2) saying "not valid TOML", not a crash."""
    path = tmp_path / "bad.toml"
    path.write_text("nodes = [\n")
    result = run("update", flow, "--config", str(path))
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr


def test_export_toml_round_trip(run: Run, flow: str) -> None:
    """export --format toml reads back to the JSON bundle (the head's null left out)."""
    as_json = run.json("export", flow)
    as_toml = tomllib.loads(run("export", flow, "--format", "toml").stdout)
    assert as_toml["flow"] == {k: v for k, v in as_json["flow"].items() if v is not None}
    assert {k: v for k, v in as_toml.items() if k != "flow"} == {k: v for k, v in as_json.items() if k != "flow"}


def test_json_flag_wins_over_format_toml(run: Run, flow: str) -> None:
    """With --json stdout is one JSON document, whatever --format says."""
    result = run("show", flow, "--format", "toml", "--json")
    assert json.loads(result.stdout)["key"] == "f"

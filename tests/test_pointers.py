"""`update --set POINTER=JSON` and `--unset POINTER`: scripts edit a draft without jq,
at the same paths `diff --format json` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, scored, write_config


def draft(run: Run, key: str = "f") -> dict[str, Any]:
    config: dict[str, Any] = run.json("show", key, "--version", "draft")
    return config


class TestSet:
    def test_set_by_node_id(self, run: Run, flow: str) -> None:
        """Node segments are ids: /nodes/score/config/method names the node with id `score`."""
        result = run("update", flow, "--set", '/nodes/score/config/method="scorecard"')
        assert result.exit_code == 0, result.output
        assert draft(run)["nodes"][1]["config"] == {"method": "scorecard"}

    def test_value_is_json(self, run: Run, flow: str) -> None:
        """Numbers, objects, lists and booleans are JSON, stored as given."""
        result = run("update", flow,
                     "--set", "/nodes/rank/config/topN=3",
                     "--set", '/nodes/score/config/weights={"age": 0.5, "income": 1}',
                     "--set", '/stages={"labels": ["a", true, null]}')
        assert result.exit_code == 0, result.output
        config = draft(run)
        assert config["nodes"][2]["config"]["topN"] == 3
        assert config["nodes"][1]["config"]["weights"] == {"age": 0.5, "income": 1}
        assert config["stages"] == {"labels": ["a", True, None]}

    def test_new_key_goes_last_and_old_keys_keep_their_place(self, run: Run, flow: str) -> None:
        """Files keep the user's key order: a replaced key stays, a new key is appended."""
        assert run("update", flow, "--set", '/nodes/score/config/aaa="x"',
                   "--set", '/nodes/score/config/method="m"').exit_code == 0
        assert list(draft(run)["nodes"][1]["config"]) == ["method", "aaa"]

    def test_dash_appends_a_node(self, run: Run, flow: str) -> None:
        """`-` appends to a list, as in RFC 6902."""
        node = {"id": "filter-1", "type": "filter", "config": {"rule": "age > 18"}}
        result = run("update", flow, "--set", f"/nodes/-={json.dumps(node)}")
        assert result.exit_code == 0, result.output
        assert draft(run)["nodes"][-1] == node

    def test_replace_a_whole_node(self, run: Run, flow: str) -> None:
        """A node segment as the last one replaces that node in its place."""
        node = {"id": "rank", "type": "rank", "config": {"limit": 2}}
        assert run("update", flow, "--set", f"/nodes/rank={json.dumps(node)}").exit_code == 0
        assert draft(run)["nodes"][2] == node

    def test_data_spelling_is_reached_through_config(self, run: Run, tmp_path: Path) -> None:
        """A node written with `data` is edited through `config`, as diff names it; the spelling stays."""
        config = scored()
        config["nodes"][1] = {"id": "score", "type": "score", "data": {"method": "a"}}
        assert run("create", "g", "--name", "G", "--config", write_config(tmp_path / "g.json", config)).exit_code == 0
        assert run("update", "g", "--set", '/nodes/score/config/method="b"').exit_code == 0
        assert draft(run, "g")["nodes"][1] == {"id": "score", "type": "score", "data": {"method": "b"}}

    def test_same_paths_as_diff_prints(self, run: Run, flow: str, tmp_path: Path) -> None:
        """Every path of `diff --format json` can be fed back to --set."""
        assert run("publish", flow).exit_code == 0
        changed = scored(top_n=9, method="scorecard")
        assert run("update", flow, "--config", write_config(tmp_path / "n.json", changed)).exit_code == 0
        changes = run.json("diff", flow, "--format", "json")["changes"]
        assert {c["path"] for c in changes} == {"/nodes/score/config/method", "/nodes/rank/config/topN"}
        assert run("update", flow, "--config", write_config(tmp_path / "o.json", scored())).exit_code == 0
        sets = [arg for c in changes for arg in ("--set", f"{c['path']}={json.dumps(c['new'])}")]
        assert run("update", flow, *sets).exit_code == 0
        assert draft(run) == changed

    def test_applies_on_top_of_config(self, run: Run, flow: str, tmp_path: Path) -> None:
        """--config is read first, then the edits apply to it; only the result is validated."""
        broken = scored()
        broken["nodes"][2]["config"]["topN"] = -1
        result = run("update", flow, "--config", write_config(tmp_path / "b.json", broken),
                     "--set", "/nodes/rank/config/topN=4")
        assert result.exit_code == 0, result.output
        assert draft(run)["nodes"][2]["config"]["topN"] == 4

    def test_no_change_writes_nothing(self, run: Run, flow: str) -> None:
        """Setting a value to what it is already is not a change: no rowVersion bump."""
        before = run.json("show", flow)["rowVersion"]
        assert run("update", flow, "--set", "/nodes/rank/config/topN=5").exit_code == 0
        assert run.json("show", flow)["rowVersion"] == before

    def test_row_version_guards_the_edit(self, run: Run, flow: str) -> None:
        """--row-version still applies: a stale one exits 4 and changes nothing."""
        result = run("update", flow, "--set", "/nodes/rank/config/topN=1", "--row-version", "7")
        assert result.exit_code == 4
        assert draft(run)["nodes"][2]["config"]["topN"] == 5

    def test_pointer_escapes(self, run: Run, flow: str) -> None:
        """RFC 6901 escapes: ~1 is '/', ~0 is '~'."""
        assert run("update", flow, "--set", '/nodes/score/config/a~1b~0c="x"').exit_code == 0
        assert draft(run)["nodes"][1]["config"]["a/b~c"] == "x"


class TestUnset:
    def test_unset_a_key(self, run: Run, flow: str) -> None:
        """--unset removes a key."""
        assert run("update", flow, "--unset", "/nodes/rank/config/topN").exit_code == 0
        assert draft(run)["nodes"][2]["config"] == {}

    def test_unset_a_node_by_id(self, run: Run, flow: str) -> None:
        """--unset /nodes/ID removes that node."""
        assert run("update", flow, "--unset", "/nodes/rank").exit_code == 0
        assert [node["id"] for node in draft(run)["nodes"]] == ["source", "score", "output"]

    def test_unset_an_edge_by_name(self, run: Run, tmp_path: Path) -> None:
        """Edges can be named `source->target`, as diff names them."""
        config = scored()
        config["edges"] = [{"source": "source", "target": "score"}, {"source": "score", "target": "rank"},
                           {"source": "rank", "target": "output"}]
        assert run("create", "g", "--name", "G", "--config", write_config(tmp_path / "g.json", config)).exit_code == 0
        assert run("update", "g", "--unset", "/edges/rank->output").exit_code == 0
        assert draft(run, "g")["edges"] == config["edges"][:2]

    def test_set_and_unset_apply_in_the_order_given(self, run: Run, flow: str) -> None:
        """`--unset P --set P=v` and `--set P=v --unset P` mean different things."""
        assert run("update", flow, "--unset", "/nodes/rank/config/topN",
                   "--set", "/nodes/rank/config/topN=2").exit_code == 0
        assert draft(run)["nodes"][2]["config"] == {"topN": 2}
        assert run("update", flow, "--set", "/nodes/rank/config/topN=3",
                   "--unset", "/nodes/rank/config/topN").exit_code == 0
        assert draft(run)["nodes"][2]["config"] == {}


class TestErrors:
    def test_missing_node_id_names_it_and_lists_the_ids(self, run: Run, flow: str) -> None:
        """An unknown node id exits 2, naming it and the ids there are; nothing changes."""
        before = draft(run)
        result = run("update", flow, "--set", "/nodes/scorer/config/method=\"x\"")
        assert result.exit_code == 2
        assert "no node with id 'scorer'" in result.stderr
        assert "node ids: source, score, rank, output" in result.stderr
        assert draft(run) == before

    def test_missing_node_id_as_last_segment_suggests_appending(self, run: Run, flow: str) -> None:
        """Setting a whole node that is not there hints at `/nodes/-`."""
        result = run("update", flow, "--set", '/nodes/new={"id": "new", "type": "filter", "config": {}}')
        assert result.exit_code == 2
        assert "/nodes/-=" in result.stderr

    def test_unset_missing_node_exits_2(self, run: Run, flow: str) -> None:
        """--unset of a node id that does not exist is exit 2 naming the id (never a silent no-op)."""
        result = run("update", flow, "--unset", "/nodes/ghost")
        assert result.exit_code == 2
        assert "ghost" in result.stderr

    def test_invalid_json_value_names_the_pointer(self, run: Run, flow: str) -> None:
        """A value that is not JSON exits 2, naming the pointer and how to quote a string."""
        result = run("update", flow, "--set", "/nodes/score/config/method=scorecard")
        assert result.exit_code == 2
        assert "--set /nodes/score/config/method" in result.stderr
        assert "not valid JSON" in result.stderr
        assert '\'/nodes/score/config/method="scorecard"\'' in result.stderr

    @pytest.mark.parametrize(("args", "expected"), [
        (["--set", "nodes/rank/config/topN=1"], "must be a JSON Pointer"),
        (["--set", "/nodes/rank/config/topN"], "needs POINTER=JSON"),
        (["--unset", ""], "cannot be removed"),
        (["--unset", "/nodes/rank/config/nope"], "nothing to unset"),
        (["--set", "/nodes/rank/config/topN/x=1"], "is a number, not an object or a list"),
        (["--set", "/missing/x=1"], "the config has no 'missing'"),
        (["--set", "/edges/0=1"], "has no 'edges'"),
        (["--unset", "/nodes/-"], "nothing there to unset"),
    ])
    def test_bad_paths_exit_2(self, run: Run, flow: str, args: list[str], expected: str) -> None:
        """Each malformed or dangling path exits 2 with a message saying what is wrong."""
        result = run("update", flow, *args)
        assert result.exit_code == 2, result.output
        assert expected in result.stderr

    def test_list_index_out_of_range(self, run: Run, tmp_path: Path) -> None:
        """Other lists take indexes; one past the end exits 2 and suggests '-'."""
        config = {**scored(), "stages": {"tags": ["a", "b"]}}
        assert run("create", "g", "--name", "G", "--config", write_config(tmp_path / "g.json", config)).exit_code == 0
        assert run("update", "g", "--set", '/stages/tags/1="B"').exit_code == 0
        assert draft(run, "g")["stages"]["tags"] == ["a", "B"]
        result = run("update", "g", "--set", '/stages/tags/2="c"')
        assert result.exit_code == 2
        assert "index 2 is out of range" in result.stderr and "'-'" in result.stderr

    def test_result_is_validated_exit_5(self, run: Run, flow: str) -> None:
        """A structurally invalid result exits 5 with the config path and value."""
        result = run("update", flow, "--set", "/nodes/rank/config/topN=-2")
        assert result.exit_code == 5
        assert "nodes[2].config.topN: must be a positive integer (-2)" in result.stderr

    def test_result_is_validated_exit_2(self, run: Run, flow: str) -> None:
        """A schema error in the result exits 2."""
        result = run("update", flow, "--set", "/nodes=5")
        assert result.exit_code == 2
        assert "nodes" in result.stderr

    def test_json_errors(self, run: Run, flow: str) -> None:
        """With --json, the error is one JSON object on stderr."""
        result = run("update", flow, "--set", "/nodes/nope/x=1", "--json")
        assert result.exit_code == 2
        assert json.loads(result.stderr)["error"]["code"] == "bad-input"


class TestCore:
    def test_apply_leaves_the_input_alone(self) -> None:
        """pointers.apply works on a copy: the caller's config (the stored head) is never mutated."""
        from flowctl import pointers

        config = scored()
        new = pointers.apply(config, [pointers.parse_set("/nodes/rank/config/topN=1"),
                                      pointers.parse_unset("/nodes/score")])
        assert config == scored()
        assert [node["id"] for node in new["nodes"]] == ["source", "rank", "output"]
        assert new["nodes"][1]["config"]["topN"] == 1

    def test_set_value_is_copied(self) -> None:
        """One parsed edit applied twice gives two independent values."""
        from flowctl import pointers

        edit = pointers.parse_set('/stages={"a": []}')
        first = pointers.apply(scored(), [edit])
        first["stages"]["a"].append(1)
        assert pointers.apply(scored(), [edit])["stages"] == {"a": []}

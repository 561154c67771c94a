"""init, create, update, list, delete and show through the real CLI (docs/contract.md §1–§5)."""

from __future__ import annotations

import getpass
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flowctl.cli.app import app

from conftest import (
    EPOCH,
    HEAD_FIELDS,
    Run,
    assert_error,
    audit_lines,
    flow_dir,
    read_head,
    scored,
    tree_bytes,
    write_config,
)

ID_RE = re.compile(r"flow_[0-9a-f]{12}\Z")


# -- local helpers -------------------------------------------------------------


def keys_of(page: dict[str, Any]) -> list[str]:
    return [flow["key"] for flow in page["data"]]


def publishable(run: Run, tmp_path: Path, key: str, top_n: int = 5) -> None:
    """Create `key` with a publishable draft and publish it once."""
    cfg = write_config(tmp_path / f"{key}-pub.json", scored(top_n))
    assert run("create", key, "--name", key, "--config", cfg).exit_code == 0
    assert run("publish", key).exit_code == 0


# -- init ------------------------------------------------------------------------


class TestInit:
    def test_init_makes_settings_gitignore_and_flows(self, tmp_path: Path) -> None:
        """init writes flowctl.toml (format 1, default tenant), .gitignore and flows/."""
        result = CliRunner().invoke(app, ["init", str(tmp_path / "repo")])
        assert result.exit_code == 0, result.output
        root = tmp_path / "repo"
        assert f"Initialized empty flowctl store in {root.resolve()}" in result.stdout
        settings = tomllib.loads((root / "flowctl.toml").read_text(encoding="utf-8"))
        assert settings == {"format": 1, "default_tenant": "default"}
        assert (root / ".gitignore").is_file()
        assert (root / "flows").is_dir()

    def test_init_without_dir_uses_working_directory(self, tmp_path: Path) -> None:
        """`flowctl init` with no DIR makes the store in the working directory."""
        result = CliRunner().invoke(app, ["init"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "flowctl.toml").is_file()

    @pytest.mark.parametrize("argv", [["init", "{dir}", "--json"], ["--json", "init", "{dir}"]])
    def test_init_json_is_store_path(self, tmp_path: Path, argv: list[str]) -> None:
        """init --json (before or after the command) prints exactly {"store": PATH}."""
        target = tmp_path / "repo"
        result = CliRunner().invoke(app, [a.format(dir=target) for a in argv])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"store": str(target.resolve())}

    def test_init_on_existing_store_is_conflict(self, store: Path) -> None:
        """init where flowctl.toml exists exits 4 and changes nothing."""
        before = tree_bytes(store)
        result = CliRunner().invoke(app, ["init", str(store)])
        assert_error(result, 4, "already a flowctl store")
        assert tree_bytes(store) == before


# -- create ----------------------------------------------------------------------


class TestCreate:
    def test_create_writes_head_with_default_draft(self, run: Run, store: Path) -> None:
        """create: head fields in docs/contract.md §3 order, rowVersion 1, nothing published, default draft."""
        head = run.json("create", "credit-card-nba", "--name", "Credit card NBA")
        assert list(head) == HEAD_FIELDS
        assert ID_RE.match(head["id"]), head["id"]
        assert head["tenantId"] == "default"
        assert head["key"] == "credit-card-nba"
        assert head["name"] == "Credit card NBA"
        assert head["description"] == ""
        assert head["kind"] == "decision-flow"
        assert head["status"] == "draft"
        assert head["autoAssembly"] is True
        assert head["activeVersion"] is None
        assert head["latestVersion"] == 0
        assert head["rowVersion"] == 1
        assert head["createdAt"] == head["updatedAt"] == "2026-03-15T14:30:00.000Z"
        assert head["createdBy"] == head["updatedBy"] == "tester"
        assert read_head(store, "credit-card-nba") == head

    def test_default_draft_shape(self, run: Run) -> None:
        """The default draft is the v2 pipeline source, qualify, score (no method), rank topN 5, output."""
        draft = run.json("create", "f", "--name", "F")["draftConfig"]
        assert draft["version"] == 2
        nodes = draft["nodes"]
        assert [(n["id"], n["type"]) for n in nodes] == [
            ("source", "candidate_source"), ("qualify", "qualify"), ("score", "score"),
            ("rank", "rank"), ("output", "output"),
        ]
        assert "method" not in nodes[2].get("config", {})
        assert nodes[3]["config"]["topN"] == 5
        assert "edges" not in draft

    def test_create_options(self, run: Run) -> None:
        """--description, --status paused, --no-auto-assembly and --id are stored as given."""
        head = run.json("create", "f", "--name", "F", "--description", "what it does",
                        "--status", "paused", "--no-auto-assembly", "--id", "my-flow-id")
        assert (head["description"], head["status"], head["autoAssembly"], head["id"]) == (
            "what it does", "paused", False, "my-flow-id")

    def test_ids_are_distinct_per_flow(self, run: Run) -> None:
        """Each flow gets its own generated flow_ + 12 hex id."""
        ids = {run.json("create", key, "--name", key)["id"] for key in ("a", "b", "c")}
        assert len(ids) == 3 and all(ID_RE.match(i) for i in ids)

    def test_generated_id_without_fixed_clock(self, run: Run) -> None:
        """Without SOURCE_DATE_EPOCH the id is random but keeps the flow_ + 12 hex format."""
        result = run("create", "f", "--name", "F", "--json", env={"SOURCE_DATE_EPOCH": None})
        assert result.exit_code == 0, result.stderr
        assert ID_RE.match(json.loads(result.stdout)["id"])

    def test_duplicate_key_is_conflict(self, run: Run, store: Path) -> None:
        """A second create of the same key exits 4 and leaves the first flow untouched."""
        run.json("create", "f", "--name", "F")
        before = tree_bytes(store)
        assert_error(run("create", "f", "--name", "other"), 4, "'f'", "already used")
        assert tree_bytes(store) == before

    @pytest.mark.parametrize("clash", ["existing-id", "f"])
    def test_id_equal_to_existing_id_or_key_is_conflict(self, run: Run, store: Path, clash: str) -> None:
        """--id may not equal any existing id or key of the tenant (exit 4)."""
        run.json("create", "f", "--name", "F", "--id", "existing-id")
        before = tree_bytes(store)
        assert_error(run("create", "g", "--name", "G", "--id", clash), 4, repr(clash), "already used")
        assert tree_bytes(store) == before
        assert not flow_dir(store, "g").exists()

    def test_key_equal_to_existing_id_is_conflict(self, run: Run, store: Path) -> None:
        """A new key may not equal an existing flow's id (exit 4): FLOW would be ambiguous."""
        run.json("create", "f", "--name", "F", "--id", "taken")
        assert_error(run("create", "taken", "--name", "T"), 4, "'taken'")
        assert not flow_dir(store, "taken").exists()

    def test_create_active_is_invalid(self, run: Run, store: Path) -> None:
        """--status active on create exits 5 (no published version) and creates nothing."""
        assert_error(run("create", "f", "--name", "F", "--status", "active"), 5, "active", "publish")
        assert not flow_dir(store, "f").exists()

    def test_create_requires_name(self, run: Run, store: Path) -> None:
        """--name is required (usage error, exit 2)."""
        assert_error(run("create", "f"), 2, "--name")
        assert not flow_dir(store, "f").exists()

    def test_create_with_schema_error_is_bad_input(self, run: Run, store: Path, tmp_path: Path) -> None:
        """A config with neither nodes nor stages is a schema error: exit 2, nothing created."""
        cfg = write_config(tmp_path / "c.json", {"version": 2, "edges": []})
        assert_error(run("create", "f", "--name", "F", "--config", cfg), 2, "config is not valid")
        assert not flow_dir(store, "f").exists()

    def test_create_with_structural_errors_lists_every_one(self, run: Run, store: Path, tmp_path: Path) -> None:
        """Structural errors exit 5 and every one is listed at once with its path and value."""
        config = {
            "version": 2,
            "nodes": [
                {"id": "a", "type": "candidate_source", "config": {}},
                {"id": "a", "type": "score", "config": {"method": "m"}},
                {"id": "x", "type": "teleport", "config": {}},
                {"id": "r", "type": "rank", "config": {"topN": -2}},
            ],
            "edges": [{"source": "a", "target": "ghost"}],
        }
        cfg = write_config(tmp_path / "c.json", config)
        result = run("create", "f", "--name", "F", "--config", cfg)
        assert_error(result, 5, "4 problems")
        lines = result.stderr.splitlines()[1:]
        assert "  nodes[3].config.topN: must be a positive integer (-2)" in lines
        assert any(line.startswith("  nodes[1].id: duplicate node id") for line in lines)
        assert any(line.startswith("  nodes[2].type: unknown node type \"teleport\"") for line in lines)
        assert any(line.startswith("  edges[0].target: no node with id \"ghost\"") for line in lines)
        assert not flow_dir(store, "f").exists()

    def test_create_with_cycle_is_invalid(self, run: Run, tmp_path: Path) -> None:
        """A cycle in the edges is a structural error (exit 5)."""
        config = scored()
        config["edges"] = [{"source": "score", "target": "rank"}, {"source": "rank", "target": "score"}]
        cfg = write_config(tmp_path / "c.json", config)
        assert_error(run("create", "f", "--name", "F", "--config", cfg), 5, "cycle")

    def test_create_with_schema_and_structural_errors_is_bad_input(self, run: Run, tmp_path: Path) -> None:
        """Both kinds of error: exit 2, all of them listed."""
        config = {"nodes": [{"id": 7, "type": "score"}, {"id": "r", "type": "rank", "config": {"topN": 0}}]}
        cfg = write_config(tmp_path / "c.json", config)
        result = run("create", "f", "--name", "F", "--config", cfg)
        assert_error(result, 2, "nodes[0].id", "nodes[1].config.topN: must be a positive integer (0)")

    def test_create_config_from_toml_file(self, run: Run, tmp_path: Path) -> None:
        """A --config file ending in .toml is read as TOML."""
        path = tmp_path / "draft.toml"
        path.write_text('version = 2\n[[nodes]]\nid = "s"\ntype = "score"\n[nodes.config]\nmethod = "m"\n',
                        encoding="utf-8")
        head = run.json("create", "f", "--name", "F", "--config", str(path))
        assert head["draftConfig"] == {"version": 2, "nodes": [{"id": "s", "type": "score",
                                                                "config": {"method": "m"}}]}

    def test_create_config_from_stdin(self, run: Run) -> None:
        """--config - reads the JSON config from stdin."""
        head = run.json("create", "f", "--name", "F", "--config", "-", input=json.dumps(scored(3)))
        assert head["draftConfig"] == scored(3)


# -- update ----------------------------------------------------------------------


class TestUpdate:
    def test_update_bumps_row_version_and_audits_changes(self, run: Run, store: Path) -> None:
        """A real change bumps rowVersion by 1, stamps updatedAt/By and appends an audit line with `changes`."""
        run.json("create", "f", "--name", "F")
        result = run("update", "f", "--name", "New", "--description", "d", "--actor", "alice",
                     "--json", env={"SOURCE_DATE_EPOCH": "1773585060"})
        assert result.exit_code == 0, result.stderr
        head = json.loads(result.stdout)
        assert list(head) == HEAD_FIELDS
        assert (head["name"], head["description"], head["rowVersion"]) == ("New", "d", 2)
        assert head["updatedAt"] == "2026-03-15T14:31:00.000Z" and head["updatedBy"] == "alice"
        assert head["createdAt"] == "2026-03-15T14:30:00.000Z" and head["createdBy"] == "tester"
        assert read_head(store, "f") == head
        last = audit_lines(store, "f")[-1]
        assert last == {"at": "2026-03-15T14:31:00.000Z", "actor": "alice", "action": "update",
                        "rowVersion": 2, "changes": ["name", "description"]}

    def test_noop_update_writes_nothing(self, run: Run, store: Path, tmp_path: Path) -> None:
        """An update that changes nothing exits 0, keeps rowVersion, writes no audit line, no byte."""
        draft = run.json("create", "f", "--name", "F", "--description", "d")["draftConfig"]
        cfg = write_config(tmp_path / "same.json", draft)
        before = tree_bytes(store)
        result = run("update", "f", "--name", "F", "--description", "d", "--status", "draft",
                     "--auto-assembly", "--config", cfg, "--json", env={"SOURCE_DATE_EPOCH": "1773599999"})
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["rowVersion"] == 1
        assert tree_bytes(store) == before

    def test_update_active_before_publish_is_invalid(self, run: Run, store: Path) -> None:
        """--status active before the first publish exits 5 and changes nothing."""
        run.json("create", "f", "--name", "F")
        before = tree_bytes(store)
        assert_error(run("update", "f", "--status", "active"), 5, "'f'", "publish")
        assert tree_bytes(store) == before

    def test_update_status_after_publish(self, run: Run, tmp_path: Path) -> None:
        """Once published, status may move between active, paused and archived."""
        publishable(run, tmp_path, "f")
        assert run.json("update", "f", "--status", "paused")["status"] == "paused"
        assert run.json("update", "f", "--status", "active")["status"] == "active"

    def test_update_row_version_mismatch_is_conflict(self, run: Run, store: Path) -> None:
        """--row-version other than the head's exits 4 and leaves the store byte-identical."""
        run.json("create", "f", "--name", "F")
        run.json("update", "f", "--name", "G")
        before = tree_bytes(store)
        assert_error(run("update", "f", "--name", "H", "--row-version", "1"), 4, "rowVersion 2", "not 1")
        assert tree_bytes(store) == before
        assert run.json("update", "f", "--name", "H", "--row-version", "2")["rowVersion"] == 3

    def test_update_config_from_stdin(self, run: Run) -> None:
        """--config - reads the new draft from stdin."""
        run.json("create", "f", "--name", "F")
        head = run.json("update", "f", "--config", "-", input=json.dumps(scored(7)))
        assert head["draftConfig"] == scored(7) and head["rowVersion"] == 2

    def test_update_config_from_toml(self, run: Run, tmp_path: Path) -> None:
        """--config x.toml is read as TOML."""
        run.json("create", "f", "--name", "F")
        path = tmp_path / "x.toml"
        path.write_text('[stages.scoring]\nmethod = "logit"\n', encoding="utf-8")
        head = run.json("update", "f", "--config", str(path))
        assert head["draftConfig"] == {"stages": {"scoring": {"method": "logit"}}}

    def test_update_auto_assembly_flag(self, run: Run) -> None:
        """--no-auto-assembly / --auto-assembly toggle autoAssembly."""
        run.json("create", "f", "--name", "F")
        assert run.json("update", "f", "--no-auto-assembly")["autoAssembly"] is False
        assert run.json("update", "f", "--auto-assembly")["autoAssembly"] is True

    @pytest.mark.parametrize(("config", "code"), [
        ({"version": 2}, 2),
        ({"version": 2, "nodes": [{"id": 1, "type": "rank", "config": {"topN": 5}}]}, 2),
        ({"version": 2, "nodes": [{"id": "r", "type": "rank", "config": {"topN": "5"}}]}, 5),
        ({"version": 2, "nodes": [{"id": "r", "type": "rank", "config": {"topN": 0}}]}, 5),
    ])
    def test_update_invalid_config_changes_nothing(self, run: Run, store: Path, tmp_path: Path,
                                                   config: dict[str, Any], code: int) -> None:
        """A new draft is validated: schema errors exit 2, structural ones 5, nothing written."""
        run.json("create", "f", "--name", "F")
        before = tree_bytes(store)
        assert_error(run("update", "f", "--config", write_config(tmp_path / "c.json", config)), code,
                     "config is not valid")
        assert tree_bytes(store) == before

    def test_update_missing_flow_is_not_found(self, run: Run) -> None:
        """Updating a flow that does not exist exits 3."""
        assert_error(run("update", "nope", "--name", "x"), 3, "'nope'")


# -- FLOW: key or id -------------------------------------------------------------


class TestFlowArgument:
    def test_flow_accepts_id(self, run: Run) -> None:
        """Every FLOW argument accepts the flow's id as well as its key."""
        flow_id = run.json("create", "f", "--name", "F")["id"]
        assert run.json("show", flow_id)["key"] == "f"
        assert run.json("update", flow_id, "--name", "G")["name"] == "G"
        assert run.json("versions", flow_id) == {"flowId": flow_id, "versions": []}

    def test_key_is_tried_before_id(self, run: Run, store: Path) -> None:
        """When a key equals another flow's id (hand-made clash), the key wins."""
        run.json("create", "a", "--name", "A")
        run.json("create", "b", "--name", "B")
        head_b = flow_dir(store, "b") / "flow.json"
        data = json.loads(head_b.read_text(encoding="utf-8"))
        data["id"] = "a"
        head_b.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        assert run.json("show", "a")["name"] == "A"


# -- list ------------------------------------------------------------------------


class TestList:
    def test_list_empty(self, run: Run) -> None:
        """An empty tenant lists no flows with total 0."""
        assert run.json("list") == {"data": [], "pagination": {"total": 0, "limit": 25, "hasMore": False,
                                                               "nextCursor": None}}

    def _populate(self, run: Run, tmp_path: Path) -> None:
        def at(offset: int) -> dict[str, str]:
            return {"SOURCE_DATE_EPOCH": str(int(EPOCH) + offset)}

        cfg = write_config(tmp_path / "pub.json", scored())
        for key, offset in (("d-old", 10), ("d-new", 50), ("d-tie-b", 30), ("d-tie-a", 30)):
            assert run("create", key, "--name", key, env=at(offset)).exit_code == 0
        for key, offset in (("act-old", 0), ("act-new", 5)):
            assert run("create", key, "--name", key, "--config", cfg, env=at(offset)).exit_code == 0
            assert run("publish", key, env=at(offset)).exit_code == 0
        assert run("create", "paused-one", "--name", "p", "--status", "paused", env=at(100)).exit_code == 0
        assert run("create", "arch-one", "--name", "x", "--status", "archived", env=at(200)).exit_code == 0

    EXPECTED = ("act-new", "act-old", "d-new", "d-tie-a", "d-tie-b", "d-old", "paused-one", "arch-one")

    def test_list_order_status_then_newest_then_key(self, run: Run, tmp_path: Path) -> None:
        """list orders by status (active, draft, paused, archived), updatedAt newest first, then key."""
        self._populate(run, tmp_path)
        page = run.json("list")
        assert keys_of(page) == list(self.EXPECTED)
        assert page["pagination"] == {"total": 8, "limit": 25, "hasMore": False, "nextCursor": None}
        assert all(list(flow) == HEAD_FIELDS for flow in page["data"])

    def test_list_status_filter_counts_after_filter(self, run: Run, tmp_path: Path) -> None:
        """--status keeps only that status and `total` counts the filtered flows."""
        self._populate(run, tmp_path)
        page = run.json("list", "--status", "draft", "--limit", "2")
        assert keys_of(page) == ["d-new", "d-tie-a"]
        assert page["pagination"]["total"] == 4
        assert page["pagination"]["hasMore"] is True
        rest = run.json("list", "--status", "draft", "--limit", "2", "--cursor", page["pagination"]["nextCursor"])
        assert keys_of(rest) == ["d-tie-b", "d-old"]
        assert rest["pagination"]["hasMore"] is False and rest["pagination"]["nextCursor"] is None

    @pytest.mark.parametrize("limit", [1, 3, 8])
    def test_pagination_walks_every_flow_once(self, run: Run, tmp_path: Path, limit: int) -> None:
        """Following nextCursor with --limit visits every flow exactly once, in list order."""
        self._populate(run, tmp_path)
        seen: list[str] = []
        args = ["list", "--limit", str(limit)]
        for _ in range(20):
            page = run.json(*args)
            assert len(page["data"]) <= limit
            assert page["pagination"]["limit"] == limit and page["pagination"]["total"] == 8
            seen += keys_of(page)
            if not page["pagination"]["hasMore"]:
                assert page["pagination"]["nextCursor"] is None
                break
            args = ["list", "--limit", str(limit), "--cursor", page["pagination"]["nextCursor"]]
        assert seen == list(self.EXPECTED)

    @pytest.mark.parametrize("cursor", ["garbage", "W10", "e30", "!!!", "WzEsMl0"])
    def test_bad_cursor_is_bad_input(self, run: Run, cursor: str) -> None:
        """A cursor that list did not produce exits 2."""
        run.json("create", "f", "--name", "F")
        assert_error(run("list", "--cursor", cursor), 2, "--cursor")

    @pytest.mark.parametrize("args", [["--limit", "0"], ["--status", "deleted"]])
    def test_bad_list_options(self, run: Run, args: list[str]) -> None:
        """--limit below 1 and an unknown --status are usage errors (exit 2)."""
        assert_error(run("list", *args), 2)

    def test_list_human_table(self, run: Run) -> None:
        """The human list is a table with the flow's key and status."""
        run.json("create", "f", "--name", "Flow F")
        result = run("list")
        assert result.exit_code == 0
        assert "KEY" in result.stdout and "STATUS" in result.stdout
        assert "Flow F" in result.stdout and "draft" in result.stdout


# -- delete ----------------------------------------------------------------------


class TestDelete:
    def test_delete_yes_removes_directory(self, run: Run, store: Path, tmp_path: Path) -> None:
        """delete --yes removes the flow's directory and history; --json is {"deleted","id","key"}."""
        publishable(run, tmp_path, "f")
        flow_id = read_head(store, "f")["id"]
        assert run.json("delete", "f", "--yes") == {"deleted": True, "id": flow_id, "key": "f"}
        assert not flow_dir(store, "f").exists()
        assert [p.name for p in (store / "flows" / "default").iterdir() if not p.name.startswith(".")] == []
        assert_error(run("show", "f"), 3, "'f'")

    def test_delete_by_id_and_key_reuse(self, run: Run, store: Path) -> None:
        """delete accepts the id; the key can be created again afterwards."""
        flow_id = run.json("create", "f", "--name", "F")["id"]
        assert run("delete", flow_id, "--yes").exit_code == 0
        assert not flow_dir(store, "f").exists()
        assert run.json("create", "f", "--name", "F again")["rowVersion"] == 1

    def test_delete_without_yes_off_terminal(self, run: Run, store: Path) -> None:
        """Without --yes and no terminal, delete exits 2 and removes nothing."""
        run.json("create", "f", "--name", "F")
        before = tree_bytes(store)
        assert_error(run("delete", "f"), 2, "--yes")
        assert tree_bytes(store) == before

    def test_delete_missing_is_not_found(self, run: Run) -> None:
        """Deleting a flow that does not exist exits 3."""
        assert_error(run("delete", "nope", "--yes"), 3, "'nope'")

    def test_delete_row_version_mismatch(self, run: Run, store: Path) -> None:
        """delete --row-version other than the head's exits 4 and keeps the flow."""
        run.json("create", "f", "--name", "F")
        before = tree_bytes(store)
        assert_error(run("delete", "f", "--yes", "--row-version", "7"), 4, "rowVersion 1")
        assert tree_bytes(store) == before
        assert run("delete", "f", "--yes", "--row-version", "1").exit_code == 0


# -- show ------------------------------------------------------------------------


class TestShow:
    def test_show_head_json(self, run: Run) -> None:
        """show --json prints the head record, fields in docs/contract.md §3 order."""
        created = run.json("create", "f", "--name", "F")
        shown = run.json("show", "f")
        assert shown == created and list(shown) == HEAD_FIELDS

    def test_show_versions_and_draft(self, run: Run, tmp_path: Path) -> None:
        """show --version N|vN|active|latest gives the snapshot; draft gives the draft config."""
        publishable(run, tmp_path, "f", top_n=1)
        run.json("update", "f", "--config", write_config(tmp_path / "c2.json", scored(2)))
        run.json("publish", "f")
        run.json("update", "f", "--config", write_config(tmp_path / "c3.json", scored(3)))
        assert run.json("show", "f", "--version", "1")["configSnapshot"] == scored(1)
        assert run.json("show", "f", "--version", "v1")["version"] == 1
        assert run.json("show", "f", "--version", "active")["version"] == 2
        assert run.json("show", "f", "--version", "latest")["version"] == 2
        assert run.json("show", "f", "--version", "draft") == scored(3)

    def test_show_errors(self, run: Run) -> None:
        """Missing flow or version exits 3; a version that is no version exits 2."""
        run.json("create", "f", "--name", "F")
        assert_error(run("show", "nope"), 3, "'nope'")
        assert_error(run("show", "f", "--version", "1"), 3, "no version 1")
        assert_error(run("show", "f", "--version", "active"), 3, "no active version")
        assert_error(run("show", "f", "--version", "one"), 2, "--version 'one'")

    def test_show_toml(self, run: Run) -> None:
        """show --format toml prints the head as TOML (null fields left out)."""
        created = run.json("create", "f", "--name", "F")
        result = run("show", "f", "--format", "toml")
        assert result.exit_code == 0, result.stderr
        parsed = tomllib.loads(result.stdout)
        assert parsed == {k: v for k, v in created.items() if v is not None}

    def test_show_human(self, run: Run) -> None:
        """The human view names the key, id and row version."""
        head = run.json("create", "f", "--name", "F")
        result = run("show", "f")
        assert result.exit_code == 0
        assert head["id"] in result.stdout and "Row version" in result.stdout


# -- tenants and actors ----------------------------------------------------------


class TestTenants:
    def test_flow_of_one_tenant_is_invisible_from_another(self, run: Run, store: Path) -> None:
        """A flow created with --tenant a cannot be seen, changed or deleted from tenant b (exit 3)."""
        head = run.json("create", "f", "--name", "F", "--tenant", "a")
        assert head["tenantId"] == "a"
        assert (store / "flows" / "a" / "f" / "flow.json").is_file()
        for args in (["show", "f"], ["show", head["id"]], ["update", "f", "--name", "x"],
                     ["publish", "f"], ["delete", "f", "--yes"], ["versions", "f"]):
            assert_error(run(*args, "--tenant", "b"), 3, "'f'" if "f" in args else head["id"])
            assert_error(run(*args), 3)  # the default tenant does not see it either
        assert run.json("list", "--tenant", "b")["pagination"]["total"] == 0
        assert keys_of(run.json("list", "--tenant", "a")) == ["f"]

    def test_same_key_in_two_tenants(self, run: Run) -> None:
        """Keys are unique within a tenant only: two tenants may both have flow f."""
        a = run.json("create", "f", "--name", "A", "--tenant", "a")
        b = run.json("create", "f", "--name", "B", "--tenant", "b")
        assert a["id"] != b["id"]
        assert run.json("show", "f", "--tenant", "a")["name"] == "A"
        assert run.json("show", "f", "--tenant", "b")["name"] == "B"

    def test_tenant_from_environment(self, run: Run, store: Path) -> None:
        """$FLOWCTL_TENANT selects the tenant; --tenant overrides it."""
        result = run("create", "f", "--name", "F", "--json", env={"FLOWCTL_TENANT": "envt"})
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["tenantId"] == "envt"
        assert (store / "flows" / "envt" / "f").is_dir()
        assert run("show", "f", env={"FLOWCTL_TENANT": "envt"}).exit_code == 0
        assert run("show", "f", "--tenant", "default", env={"FLOWCTL_TENANT": "envt"}).exit_code == 3

    def test_global_options_before_and_after_command(self, run: Run, store: Path) -> None:
        """`flowctl --tenant t show f` and `flowctl show f --tenant t` are the same (kubectl style)."""
        run.json("create", "f", "--name", "F", "--tenant", "t")
        invoke = run.runner.invoke
        before = invoke(app, ["--store", str(store), "--tenant", "t", "--json", "show", "f"])
        after = invoke(app, ["show", "f", "--tenant", "t", "--store", str(store), "--json"])
        mixed = invoke(app, ["--tenant", "t", "show", "--json", "f", "--store", str(store)])
        assert before.exit_code == after.exit_code == mixed.exit_code == 0, (before.stderr, after.stderr)
        assert before.stdout == after.stdout == mixed.stdout
        assert json.loads(before.stdout)["tenantId"] == "t"

    def test_actor_from_option_env_and_login(self, run: Run, store: Path) -> None:
        """actor: --actor, else $FLOWCTL_ACTOR, else the login name."""
        assert run.json("create", "a", "--name", "A", "--actor", "alice")["createdBy"] == "alice"
        assert run.json("create", "b", "--name", "B")["createdBy"] == "tester"
        result = run("create", "c", "--name", "C", "--json", env={"FLOWCTL_ACTOR": None})
        assert json.loads(result.stdout)["createdBy"] == getpass.getuser()
        assert audit_lines(store, "a")[0]["actor"] == "alice"


def test_delete_of_a_missing_flow_is_not_found_even_without_yes(run: Run) -> None:
    """`delete ghost` off a terminal reports the missing flow (3), not the missing --yes (2)."""
    result = run("delete", "ghost")
    assert result.exit_code == 3
    assert "ghost" in result.stderr


def test_empty_store_option_is_refused(run: Run) -> None:
    """`--store ""` is a mistake to report, not a reason to fall back to discovery."""
    result = run.runner.invoke(app, ["--store", "", "list"])
    assert result.exit_code == 2
    assert "--store" in result.stderr

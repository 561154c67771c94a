"""export/import: a flow with its whole history as one bundle, moved between
stores or tenants; import checks the history and never overwrites a flow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import PublishVersions, Run, tree_bytes


@pytest.fixture
def exported(run: Run, publish_versions: PublishVersions, tmp_path: Path) -> Path:
    """Flow `f` with v1..v3, rolled back to v1 (so v4), exported to bundle.json."""
    publish_versions("f", 3)
    assert run("rollback", "f", "--version", "1", "-m", "bad").exit_code == 0
    path = tmp_path / "bundle.json"
    result = run("export", "f")
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout)
    return path


def snapshots(store: Path, tenant: str, key: str) -> dict[str, bytes]:
    return tree_bytes(store / "flows" / tenant / key / "versions")


class TestExport:
    def test_bundle_shape(self, run: Run, exported: Path) -> None:
        """One document: format, bundleVersion, the head, every snapshot oldest first, the audit log."""
        bundle = json.loads(exported.read_text())
        assert list(bundle) == ["format", "bundleVersion", "flow", "versions", "audit"]
        assert (bundle["format"], bundle["bundleVersion"]) == ("flowctl-bundle", 1)
        assert bundle["flow"] == run.json("show", "f")
        assert [s["version"] for s in bundle["versions"]] == [1, 2, 3, 4]
        assert bundle["versions"][3] == run.json("show", "f", "--version", "4")
        assert [e["action"] for e in bundle["audit"]] == (
            ["create"] + ["update", "publish"] * 3 + ["rollback"])

    def test_export_refuses_a_damaged_snapshot(self, run: Run, publish_versions: PublishVersions, store: Path) -> None:
        """A bundle never carries a snapshot that fails its checksum: exit 8."""
        publish_versions("f", 1)
        path = store / "flows" / "default" / "f" / "versions" / "000001.json"
        path.write_text(path.read_text().replace('"topN": 1', '"topN": 9'))
        result = run("export", "f")
        assert result.exit_code == 8
        assert result.stdout == ""


class TestImport:
    def test_into_another_tenant_verify_clean_diff_empty(self, run: Run, exported: Path, store: Path) -> None:
        """export → import into another tenant → verify is clean and every version diffs empty."""
        result = run("--tenant", "staging", "import", str(exported))
        assert result.exit_code == 0, result.output
        assert "Imported flow f" in result.stdout and "4 versions, active v4" in result.stdout
        assert run("--tenant", "staging", "verify").exit_code == 0
        assert run("--tenant", "staging", "verify", "f").exit_code == 0
        for version in ("1", "2", "3", "4", "draft"):
            source = run("show", "f", "--version", version, "--format", "json")
            target = store.parent / f"source-{version}.json"
            body = json.loads(source.stdout)
            target.write_text(json.dumps(body.get("configSnapshot", body)))
            check = run("--tenant", "staging", "diff", "f", version, f"@{target}", "--exit-code")
            assert check.exit_code == 0, (version, check.output)
            assert "no changes" in check.stdout
        assert run("--tenant", "staging", "diff", "f", "--exit-code").exit_code == 0

    def test_restamps_tenant_and_keeps_history(self, run: Run, exported: Path, store: Path) -> None:
        """Head and snapshots name the new tenant; everything else of the history is kept as it was."""
        assert run("--tenant", "staging", "import", str(exported)).exit_code == 0
        old, new = run.json("show", "f"), run.json("--tenant", "staging", "show", "f")
        assert new["tenantId"] == "staging" and new["id"] == old["id"]
        assert new["rowVersion"] == old["rowVersion"] + 1
        assert {k: v for k, v in new.items() if k not in ("tenantId", "rowVersion", "updatedAt", "updatedBy")} == \
               {k: v for k, v in old.items() if k not in ("tenantId", "rowVersion", "updatedAt", "updatedBy")}
        before, after = snapshots(store, "default", "f"), snapshots(store, "staging", "f")
        assert after == {name: data.replace(b'"tenantId": "default"', b'"tenantId": "staging"')
                         for name, data in before.items()}
        assert run.json("--tenant", "staging", "versions", "f") == run.json("versions", "f")

    def test_import_is_audited(self, run: Run, exported: Path) -> None:
        """The old audit lines are kept and an `import` line says where the flow came from."""
        assert run("--tenant", "staging", "import", str(exported), "--key", "g").exit_code == 0
        history = run.json("--tenant", "staging", "history", "g")
        assert history[0]["action"] == "import"
        assert history[0]["notes"].startswith("imported from default/f (flow_")
        assert [e["action"] for e in history[1:]] == [e["action"] for e in run.json("history", "f")]

    def test_rename_with_key(self, run: Run, exported: Path) -> None:
        """--key imports under another key; a new --id avoids the id taken in the same tenant."""
        result = run("import", str(exported), "--key", "f-copy", "--id", "flow_copy", "-q")
        assert (result.exit_code, result.stdout) == (0, "f-copy\n")
        head = run.json("show", "f-copy")
        assert (head["key"], head["id"]) == ("f-copy", "flow_copy")
        assert run.json("show", "f-copy", "--version", "2")["flowId"] == "flow_copy"
        assert run("verify").exit_code == 0

    def test_existing_key_is_refused(self, run: Run, exported: Path, store: Path) -> None:
        """An existing key exits 4 and changes nothing, saying to use --key."""
        before = tree_bytes(store)
        result = run("import", str(exported))
        assert result.exit_code == 4
        assert "key 'f' is already used" in result.stderr and "--key" in result.stderr
        assert tree_bytes(store) == before

    def test_taken_id_is_refused(self, run: Run, exported: Path) -> None:
        """The bundle's id used by another flow of the tenant exits 4, suggesting --id."""
        result = run("import", str(exported), "--key", "other")
        assert result.exit_code == 4
        assert "id 'flow_" in result.stderr and "--id" in result.stderr

    def test_key_equal_to_an_existing_id_is_refused(self, run: Run, exported: Path) -> None:
        """docs/contract.md §2: a new key may not equal an existing id either."""
        run("--tenant", "t", "create", "flow-x", "--name", "x", "--id", "taken")
        result = run("--tenant", "t", "import", str(exported), "--key", "taken")
        assert result.exit_code == 4

    def test_from_stdin_and_toml(self, run: Run, exported: Path, tmp_path: Path) -> None:
        """`-` reads the bundle from stdin; a .toml bundle imports like the JSON one."""
        assert run("--tenant", "a", "import", "-", input=exported.read_text()).exit_code == 0
        toml_path = tmp_path / "bundle.toml"
        toml_path.write_text(run("export", "f", "--format", "toml").stdout)
        result = run("--tenant", "b", "import", str(toml_path))
        assert result.exit_code == 0, result.output
        assert run("--tenant", "b", "verify").exit_code == 0
        from_toml, from_json = (
            [{**s, "tenantId": None} for s in run.json("--tenant", tenant, "export", "f")["versions"]]
            for tenant in ("b", "a"))
        assert from_toml == from_json

    def test_unpublished_flow_through_toml(self, run: Run, tmp_path: Path) -> None:
        """A flow never published (activeVersion null) survives TOML, where null is left out."""
        assert run("create", "d", "--name", "D").exit_code == 0
        path = tmp_path / "d.toml"
        path.write_text(run("export", "d", "--format", "toml").stdout)
        assert "activeVersion" not in path.read_text()
        assert run("--tenant", "t", "import", str(path)).exit_code == 0
        assert run.json("--tenant", "t", "show", "d")["activeVersion"] is None
        assert run("--tenant", "t", "verify").exit_code == 0

    def test_json_output(self, run: Run, exported: Path) -> None:
        """`import --json` prints the imported flow's head: the target tenant, the same key, all 4 versions."""
        head = run.json("--tenant", "t", "import", str(exported))
        assert (head["tenantId"], head["key"], head["latestVersion"]) == ("t", "f", 4)


class TestBadBundles:
    def edit(self, exported: Path, change: Callable[[dict[str, Any]], object]) -> Path:
        bundle = json.loads(exported.read_text())
        change(bundle)
        exported.write_text(json.dumps(bundle))
        return exported

    def test_bad_checksum_exits_8(self, run: Run, exported: Path, store: Path) -> None:
        """A snapshot whose config no longer matches its configSha256: exit 8, nothing written."""
        self.edit(exported, lambda b: b["versions"][1]["configSnapshot"]["nodes"][2]["config"].update(topN=99))
        before = tree_bytes(store)
        result = run("--tenant", "t", "import", str(exported))
        assert result.exit_code == 8
        assert "versions[1]: config does not match its configSha256" in result.stderr
        assert tree_bytes(store) == before

    def test_gap_in_numbering_exits_8(self, run: Run, exported: Path) -> None:
        """A bundle with a hole in its version numbering (v2 dropped) is refused as damaged history (exit 8)."""
        def drop_v2(bundle: dict[str, Any]) -> None:
            del bundle["versions"][1]
        self.edit(exported, drop_v2)
        result = run("--tenant", "t", "import", str(exported))
        assert result.exit_code == 8
        assert "numbering" in result.stderr

    @pytest.mark.parametrize(("change", "expected"), [
        (lambda b: b.update(format="zip"), "not a flowctl bundle"),
        (lambda b: b.update(bundleVersion=7), "bundleVersion 7 is not supported"),
        (lambda b: b.update(versions={}), "versions: must be a list"),
        (lambda b: b["flow"].pop("name"), "flow: missing name"),
        (lambda b: b["flow"].update(extra=1), "flow: unknown extra"),
        (lambda b: b["flow"].update(rowVersion="3"), "rowVersion"),
        (lambda b: b["audit"].append({"what": "x"}), 'audit[8]: field "at" is missing'),
    ])
    def test_malformed_bundle_exits_2(self, run: Run, exported: Path, change: Callable[[dict[str, Any]], object],
                                      expected: str) -> None:
        """Shape problems are bad input, each named by its place in the bundle."""
        self.edit(exported, change)
        result = run("--tenant", "t", "import", str(exported))
        assert result.exit_code == 2, result.output
        assert expected in result.stderr

    def test_not_json(self, run: Run, tmp_path: Path) -> None:
        """A bundle file that is not valid JSON is bad input (exit 2), not an internal error."""
        path = tmp_path / "x.json"
        path.write_text("{")
        assert run("import", str(path)).exit_code == 2

    def test_bad_key_exits_2(self, run: Run, exported: Path) -> None:
        """An invalid `--key` for the imported flow (`Bad/Key`) is bad input (exit 2)."""
        result = run("--tenant", "t", "import", str(exported), "--key", "Bad/Key")
        assert result.exit_code == 2

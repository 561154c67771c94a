"""Roles per operation through the real CLI (docs/contract.md §5.17): every
command allowed to a principal holding its role and refused (exit 6, nothing
written) to one who does not; tenant tables; a store without [access]."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Run, assert_error, scored, tree_bytes, write_config

ACCESS = """
[access]
viewer = ["vic"]
editor = ["eve"]
admin = ["ada"]
"""

# Each action, the command line that does it on flow f (v1, v2 published), and its default role.
ACTIONS = {
    "show": (["show", "f"], "viewer"),
    "versions": (["versions", "f"], "viewer"),
    "list": (["list"], "viewer"),
    "diff": (["diff", "f", "1", "2"], "viewer"),
    "history": (["history", "f"], "viewer"),
    "export": (["export", "f"], "viewer"),
    "verify": (["verify"], "viewer"),
    "create": (["create", "g", "--name", "G"], "editor"),
    "update": (["update", "f", "--description", "changed"], "editor"),
    "edit": (["edit", "f"], "editor"),
    "publish": (["publish", "f"], "editor"),
    "import": (["import", "BUNDLE", "--key", "f2", "--id", "flow_f2"], "editor"),
    "delete": (["delete", "f", "--yes"], "editor"),
    "rollback": (["rollback", "f", "--version", "1"], "admin"),
    "repair": (["verify", "--repair"], "editor"),
}
HOLDERS = {"viewer": "vic", "editor": "eve", "admin": "ada"}
BELOW = {"viewer": "nobody", "editor": "vic", "admin": "eve"}  # someone who holds only the role below


@pytest.fixture
def guarded(run: Run, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Flow f with v1, v2 published and a bundle of it; then an [access] table in flowctl.toml."""
    for top_n in (1, 2):
        assert run("create" if top_n == 1 else "update", "f", *(["--name", "F"] if top_n == 1 else []),
                   "--config", write_config(tmp_path / f"f{top_n}.json", scored(top_n))).exit_code == 0
        assert run("publish", "f").exit_code == 0
    (tmp_path / "f.bundle.json").write_text(run("export", "f").stdout, encoding="utf-8")
    with (store / "flowctl.toml").open("a", encoding="utf-8") as settings:
        settings.write(ACCESS)
    monkeypatch.setenv("EDITOR", "true")
    return tmp_path / "f.bundle.json"


def command_line(action: str, bundle: Path) -> list[str]:
    return [str(bundle) if word == "BUNDLE" else word for word in ACTIONS[action][0]]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_action_is_refused_without_its_role(run: Run, store: Path, guarded: Path, action: str) -> None:
    """Exit 6 naming the actor, the action, the role and who holds it; the store unchanged."""
    role = ACTIONS[action][1]
    before = tree_bytes(store)
    result = run("--actor", BELOW[role], *command_line(action, guarded))
    assert_error(result, 6, f"actor {BELOW[role]!r} may not {action}", f"the {role} role",
                 f"held by {HOLDERS[role]}")
    assert tree_bytes(store) == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_action_is_allowed_with_its_role_or_a_higher_one(run: Run, store: Path, guarded: Path,
                                                           action: str) -> None:
    """The role's holder may do it, and so may an admin (admin ⊇ editor ⊇ viewer)."""
    role = ACTIONS[action][1]
    for actor in {HOLDERS[role], "ada"}:
        result = run("--actor", actor, *command_line(action, guarded))
        assert result.exit_code != 6, (actor, result.stderr)
        assert result.exit_code == 0, (actor, result.stderr)
        if action in ("create", "import", "delete", "publish", "rollback"):
            break  # a second run would meet the first one's change


def test_the_refusal_is_a_json_error_object_with_json(run: Run, guarded: Path) -> None:
    """--json: the error object on stderr, code "forbidden", exit 6."""
    result = run("--json", "--actor", "vic", "publish", "f")
    assert result.exit_code == 6
    error = json.loads(result.stderr)["error"]
    assert (error["code"], error["exit"]) == ("forbidden", 6)


def test_require_overrides_the_role_an_action_needs(run: Run, store: Path, guarded: Path) -> None:
    """[access.require] rollback = "editor" lets an editor roll back."""
    with (store / "flowctl.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[access.require]\nrollback = "editor"\n')
    assert run("--actor", "eve", "rollback", "f", "--version", "1").exit_code == 0


def test_a_tenant_table_replaces_the_roles_for_its_tenant(run: Run, store: Path, guarded: Path) -> None:
    """[access.tenants.acme] decides for tenant acme alone; the default tenant keeps the top table."""
    with (store / "flowctl.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[access.tenants.acme]\nviewer = ["*"]\neditor = ["bob"]\n')
    assert run("--tenant", "acme", "--actor", "bob", "create", "a", "--name", "A").exit_code == 0
    assert_error(run("--tenant", "acme", "--actor", "eve", "create", "b", "--name", "B"), 6, "held by bob")
    assert run("--tenant", "acme", "--actor", "anyone", "list").exit_code == 0
    assert_error(run("--actor", "bob", "create", "c", "--name", "C"), 6, "held by eve")


def test_a_malformed_access_table_is_exit_8_naming_the_key(run: Run, store: Path, guarded: Path) -> None:
    """A role that is not a list of names is a broken setting, not a refusal."""
    text = (store / "flowctl.toml").read_text(encoding="utf-8").replace('editor = ["eve"]', 'editor = "eve"')
    (store / "flowctl.toml").write_text(text, encoding="utf-8")
    assert_error(run("--actor", "eve", "show", "f"), 8, "access.editor")


def test_a_store_without_access_allows_everyone(run: Run, store: Path, tmp_path: Path) -> None:
    """No [access] table: any actor may do anything, as before roles existed."""
    assert run("--actor", "nobody", "create", "f", "--name", "F").exit_code == 0
    assert run("--actor", "nobody", "delete", "f", "--yes").exit_code == 0

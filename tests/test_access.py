"""The `[access]` policy: roles per action, nesting, "*", overrides, tenants,
and the messages of a malformed table and of a refusal."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from flowctl import access
from flowctl.access import ACTIONS, ROLES, AccessPolicy
from flowctl.errors import Forbidden, IntegrityError

READS = ["show", "versions", "list", "diff", "history", "export", "verify"]
WRITES = ["create", "update", "edit", "publish", "import", "delete", "repair"]

# One principal per role, so each holds exactly its own role and the ones below it.
ONE_EACH = """
[access]
viewer = ["vera"]
editor = ["eddie"]
admin = ["ada"]
"""


def policy(text: str) -> AccessPolicy:
    """The policy of a flowctl.toml text that has an [access] table."""
    loaded = AccessPolicy.from_settings(tomllib.loads(text))
    assert loaded is not None
    return loaded


def rank(role: str) -> int:
    return ROLES.index(role)


def test_actions_cover_every_command_with_its_default_role() -> None:
    """Reads need viewer, writes (and verify --repair) editor, rollback admin: the 15 actions and nothing else."""
    assert ACTIONS == {**dict.fromkeys(READS, "viewer"), **dict.fromkeys(WRITES, "editor"), "rollback": "admin"}
    assert ROLES == ("viewer", "editor", "admin")


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("actor, role", [("vera", "viewer"), ("eddie", "editor"), ("ada", "admin")])
def test_each_role_is_allowed_exactly_the_actions_at_or_below_it(actor: str, role: str, action: str) -> None:
    """A holder of a role may do an action iff the action's default role is not higher;
    `check` raises Forbidden exactly when `allows` says no."""
    rules = policy(ONE_EACH)
    expected = rank(ACTIONS[action]) <= rank(role)
    assert rules.allows(actor, action, "default") is expected
    if expected:
        rules.check(actor, action, "default")
    else:
        with pytest.raises(Forbidden):
            rules.check(actor, action, "default")


@pytest.mark.parametrize("action", list(ACTIONS))
def test_someone_not_listed_is_refused_every_action(action: str) -> None:
    """An actor in no list holds no role."""
    with pytest.raises(Forbidden) as caught:
        policy(ONE_EACH).check("mallory", action, "default")
    assert caught.value.exit_code == 6


def test_higher_roles_hold_the_lower_ones_in_file_order_once() -> None:
    """holders(viewer) ⊇ holders(editor) ⊇ holders(admin), in file order, without repeats."""
    rules = policy("""
[access]
admin = ["ada", "eddie"]
viewer = ["vera", "ada"]
editor = ["eddie", "ed2"]
""")
    assert rules.holders("admin", "t") == ["ada", "eddie"]
    assert rules.holders("editor", "t") == ["ada", "eddie", "ed2"]
    assert rules.holders("viewer", "t") == ["ada", "eddie", "vera", "ed2"]


def test_star_lets_anyone_hold_the_role() -> None:
    """A "*" in viewer lets any actor read but not write; in admin, do anything."""
    rules = policy('[access]\nviewer = ["*"]\neditor = ["eddie"]\n')
    assert rules.allows("anybody", "show", "default")
    assert not rules.allows("anybody", "publish", "default")
    assert rules.holders("viewer", "default") == ["*", "eddie"]
    everyone = policy('[access]\nadmin = ["*"]\n')
    assert all(everyone.allows("anybody", action, "x") for action in ACTIONS)


def test_missing_lists_mean_nobody_holds_the_role() -> None:
    """An [access] table without lists refuses everyone: no role is held."""
    rules = policy("[access]\n")
    assert rules.holders("viewer", "default") == []
    assert not rules.allows("ada", "show", "default")


def test_require_overrides_the_role_of_an_action() -> None:
    """[access.require] lowers rollback to editor and raises show to admin; others keep defaults."""
    rules = policy(ONE_EACH + '[access.require]\nrollback = "editor"\nshow = "admin"\n')
    assert rules.required_role("rollback", "default") == "editor"
    assert rules.allows("eddie", "rollback", "default")
    assert not rules.allows("vera", "show", "default")
    assert rules.allows("vera", "list", "default")
    assert rules.required_role("publish", "default") == "editor"


def test_tenant_table_replaces_the_roles_and_require_for_that_tenant() -> None:
    """Tenant acme has only its own lists (alice is no one there), and without its own
    `require` it uses the defaults, not the top-level override; other tenants keep the top level."""
    rules = policy("""
[access]
viewer = ["*"]
editor = ["alice", "ci-bot"]
admin = ["alice"]
[access.require]
rollback = "editor"
[access.tenants.acme]
editor = ["bob"]
""")
    assert rules.allows("bob", "publish", "acme")
    assert not rules.allows("alice", "publish", "acme")
    assert not rules.allows("anybody", "show", "acme")
    assert rules.required_role("rollback", "acme") == "admin"
    assert not rules.allows("bob", "rollback", "acme")
    assert rules.required_role("rollback", "default") == "editor"
    assert rules.allows("ci-bot", "rollback", "default")
    assert not rules.allows("bob", "publish", "default")


def test_tenant_table_with_its_own_require() -> None:
    """A tenant's own [access.tenants.T.require] applies to that tenant only."""
    rules = policy(ONE_EACH + '[access.tenants.acme]\nviewer = ["vic"]\n'
                   '[access.tenants.acme.require]\nshow = "editor"\n')
    assert rules.required_role("show", "acme") == "editor"
    assert not rules.allows("vic", "show", "acme")
    assert rules.allows("vic", "list", "acme")
    assert rules.required_role("show", "default") == "viewer"


def test_no_access_table_allows_everything() -> None:
    """Without [access] there is no policy: from_settings gives None and check is a no-op."""
    settings = tomllib.loads('format = 1\ndefault_tenant = "default"\n')
    assert AccessPolicy.from_settings(settings) is None
    for action in ACTIONS:
        access.check(settings, "anybody", action, "default")


def test_module_check_applies_the_policy() -> None:
    """The convenience check loads the table and refuses as the policy does."""
    settings = tomllib.loads(ONE_EACH)
    access.check(settings, "ada", "rollback", "default")
    with pytest.raises(Forbidden):
        access.check(settings, "eddie", "rollback", "default")


@pytest.mark.parametrize("text, path, what", [
    ('access = "alice"', "access", "must be a table, not a string"),
    ('[access]\neditor = "alice"', "access.editor", "must be a list of principal names, not a string"),
    ('[access]\neditor = ["alice", ""]', "access.editor[1]", "must be a principal name, not an empty string"),
    ('[access]\nadmin = [1]', "access.admin[0]", "must be a principal name, not a number"),
    ('[access]\nowners = ["alice"]', "access.owners", "is not an access setting"),
    ('[access]\nrequire = "admin"', "access.require", "must be a table of action = role, not a string"),
    ('[access.require]\ndeploy = "admin"', "access.require.deploy", "is not an action flowctl knows"),
    ('[access.require]\nrollback = "owner"', "access.require.rollback", "must be a role, not 'owner'"),
    ('[access.require]\nrollback = true', "access.require.rollback", "must be a role, not a boolean"),
    ('[access]\ntenants = ["acme"]', "access.tenants", "must be a table of tenant tables, not an array"),
    ('[access.tenants]\nacme = 1', "access.tenants.acme", "must be a table, not a number"),
    ('[access.tenants.acme]\neditor = "bob"', "access.tenants.acme.editor", "must be a list"),
    ('[access.tenants."acme.eu"]\nviewers = []', 'access.tenants."acme.eu".viewers', "is not an access setting"),
    ('[access.tenants.acme.tenants.x]\neditor = []', "access.tenants.acme.tenants", "is not an access setting"),
    ('[access.tenants.acme.require]\nrollback = "root"', "access.tenants.acme.require.rollback", "must be a role"),
])
def test_malformed_table_is_an_integrity_error_naming_the_key(text: str, path: str, what: str) -> None:
    """A broken [access] is a broken store setting (exit 8): one line naming flowctl.toml,
    the key path, what is wrong and how to fix it."""
    settings: dict[str, Any] = tomllib.loads(text)
    with pytest.raises(IntegrityError) as caught:
        AccessPolicy.from_settings(settings)
    message = caught.value.message
    assert caught.value.exit_code == 8
    assert message.startswith(f"flowctl.toml: {path} {what}")
    assert f"fix {path} in flowctl.toml" in message
    assert "\n" not in message


def test_source_names_the_file_in_messages() -> None:
    """from_settings' `source` is the file named in its messages."""
    with pytest.raises(IntegrityError, match=r"^/s/flowctl.toml: access.editor"):
        AccessPolicy.from_settings({"access": {"editor": "x"}}, source="/s/flowctl.toml")


def test_forbidden_message_names_actor_action_role_and_holders() -> None:
    """The refusal says who, what, which role and who holds it, with a hint on the flag to use."""
    rules = policy('[access]\nviewer = ["*"]\neditor = ["alice", "ci-bot"]\nadmin = ["alice"]\n')
    with pytest.raises(Forbidden) as caught:
        rules.check("bob", "rollback", "default")
    assert caught.value.message == ("actor 'bob' may not rollback in tenant 'default': it needs the admin role, "
                                    "held by alice (see [access] in flowctl.toml)")
    assert caught.value.hint == "pass --actor NAME of a principal who holds it"
    assert caught.value.code == "forbidden"


def test_forbidden_message_when_nobody_holds_the_role() -> None:
    """With no holder the message says so and where to add one, and gives no flag to pass."""
    rules = policy('[access.tenants.acme]\neditor = ["bob"]\n')
    with pytest.raises(Forbidden) as caught:
        rules.check("bob", "rollback", "acme")
    assert caught.value.message == ("actor 'bob' may not rollback in tenant 'acme': it needs the admin role, "
                                    "held by nobody: add a principal to access.tenants.acme.admin in flowctl.toml")
    assert caught.value.hint is None


def test_forbidden_message_shows_five_holders_then_a_count() -> None:
    """Many holders: the first five by name, then `and N more`, all on one line."""
    names = [f"user{i}" for i in range(8)]
    rules = policy(f"[access]\neditor = {names!r}\n".replace("'", '"'))
    with pytest.raises(Forbidden) as caught:
        rules.check("x\ny", "publish", "default")
    message = caught.value.message
    assert "held by user0, user1, user2, user3, user4 and 3 more (see [access]" in message
    assert "actor 'x\\ny' may not publish" in message
    assert "\n" not in message


def test_unknown_action_or_role_is_a_programming_error() -> None:
    """An action or role flowctl does not know is the caller's bug: ValueError, not a user error."""
    rules = policy(ONE_EACH)
    with pytest.raises(ValueError, match="unknown action 'deploy'"):
        rules.allows("ada", "deploy", "default")
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        rules.holders("owner", "default")

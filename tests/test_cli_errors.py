"""Failures: exit codes, one stderr line, --json error objects, no tracebacks,
the store untouched, hostile names refused before any file is touched (docs/contract.md §2, §6)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from flowctl.cli.app import app

from conftest import PREFIX, Run, assert_error, build_template, copy_template, scored, tree_bytes, write_config

CODES = {2: "bad-input", 3: "not-found", 4: "conflict", 5: "invalid-config", 6: "forbidden",
         7: "busy", 8: "integrity", 70: "internal"}


# -- local helpers -------------------------------------------------------------


def all_paths(root: Path) -> set[str]:
    """Every file and directory under `root`, lock files included: nothing may appear."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_json_error(result: Result, code: int, *fragments: str) -> dict[str, Any]:
    """Exit `code`; stdout empty; stderr exactly one JSON object {"error": {code, exit, message[, errors]}}."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    body = json.loads(result.stderr)
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert list(error)[:3] == ["code", "exit", "message"]
    assert set(error) <= {"code", "exit", "message", "errors"}
    assert error["code"] == CODES[code] and error["exit"] == code
    assert isinstance(error["message"], str) and error["message"]
    for fragment in fragments:
        assert fragment in error["message"], (fragment, error["message"])
    assert "Traceback" not in result.stderr
    return error


def _populate(run: Run, base: Path) -> None:
    """Flow `f` (v1, v2 published, v2 active) and flow `d` (unpublished default draft)."""
    for i in (1, 2):
        cfg = write_config(base / f"v{i}.json", scored(i))
        assert run("update" if i > 1 else "create", "f", *([] if i > 1 else ["--name", "F"]),
                   "--config", cfg).exit_code == 0
        assert run("publish", "f").exit_code == 0
    assert run("create", "d", "--name", "D").exit_code == 0


@pytest.fixture(scope="module")
def populated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: flow `f` (v1, v2 published, v2 active) and flow `d` (unpublished default draft)."""
    return build_template(tmp_path_factory, "populated", _populate)


@pytest.fixture
def populated(run: Run, populated_template: Path) -> Path:
    """This test's own copy of the populated store (the `run` fixture points at it)."""
    return copy_template(run, populated_template)


def _inputs(tmp_path: Path) -> dict[str, str]:
    """Config files with every kind of defect, for the error table."""
    files = {
        "malformed": "{nodes: [}",
        "truncated": '{"version": 2, "nodes": [{"id": "s", "type": "sco',
        "toplist": "[1, 2, 3]",
        "topstring": '"just a string"',
        "empty": "",
        "badtoml.toml": "version = = 2",
        "structural": json.dumps({"version": 2, "nodes": [{"id": "r", "type": "rank", "config": {"topN": -2}},
                                                          {"id": "r", "type": "warp", "config": {}}]}),
        "notutf8": "",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "notutf8").write_bytes(b'{"a": "\xff"}')
    (tmp_path / "adir").mkdir(exist_ok=True)
    return {name: str(tmp_path / name) for name in [*files, "adir"]}


# (argv, exit code, fragments of the message); "{x}" is replaced by an input file path.
ERROR_TABLE: list[tuple[list[str], int, tuple[str, ...]]] = [
    (["show", "ghost"], 3, ("no flow 'ghost'", "flowctl list")),
    (["show", "f", "--version", "7"], 3, ("no version 7",)),
    (["show", "f", "--version", "seven"], 2, ("--version",)),
    (["versions", "ghost"], 3, ("'ghost'",)),
    (["delete", "ghost", "--yes"], 3, ("'ghost'",)),
    (["delete", "f"], 2, ("--yes",)),
    (["delete", "f", "--yes", "--row-version", "1"], 4, ("rowVersion",)),
    (["create", "f", "--name", "again"], 4, ("'f'", "already used")),
    (["create", "n", "--name", "N", "--status", "active"], 5, ("publish",)),
    (["create", "n", "--name", ""], 2, ("name",)),
    (["create", "n", "--name", "two\nlines"], 2, ("single line",)),
    (["update", "d", "--status", "active"], 5, ("publish",)),
    (["update", "f", "--name", "x", "--row-version", "1"], 4, ("rowVersion",)),
    (["publish", "f", "--row-version", "99"], 4, ("rowVersion",)),
    (["rollback", "f", "--version", "2"], 4, ("v2", "already the active version")),
    (["rollback", "f", "--version", "3"], 3, ("no version 3",)),
    (["rollback", "d"], 3, ("no published version",)),
    (["rollback", "f", "--expected-current-version", "1"], 4, ("v2", "v1")),
    (["list", "--cursor", "nonsense"], 2, ("--cursor",)),
    (["list", "--limit", "0"], 2, ("--limit",)),
    (["list", "--frobnicate"], 2, ("--frobnicate",)),
    (["--frobnicate", "list"], 2, ("--frobnicate",)),
    (["show"], 2, ("FLOW",)),
    (["teleport"], 2, ("teleport",)),
    (["create", "n", "--name", "N", "--config", "{malformed}"], 2, ("not valid JSON",)),
    (["create", "n", "--name", "N", "--config", "{truncated}"], 2, ("not valid JSON",)),
    (["create", "n", "--name", "N", "--config", "{empty}"], 2, ("not valid JSON",)),
    (["create", "n", "--name", "N", "--config", "{badtoml.toml}"], 2, ("not valid TOML",)),
    (["create", "n", "--name", "N", "--config", "{notutf8}"], 2, ("UTF-8",)),
    (["create", "n", "--name", "N", "--config", "{adir}"], 2, ("directory",)),
    (["create", "n", "--name", "N", "--config", "{missing}"], 2, ("no such file",)),
    (["update", "d", "--config", "{truncated}"], 2, ("not valid JSON",)),
    (["update", "d", "--config", "{missing}"], 2, ("no such file",)),
]
PROBLEM_TABLE: list[tuple[list[str], int, tuple[str, ...]]] = [
    (["create", "n", "--name", "N", "--config", "{toplist}"], 2, ("$: must be a JSON object ([1, 2, 3])",)),
    (["create", "n", "--name", "N", "--config", "{topstring}"], 2, ("$: must be a JSON object",)),
    (["create", "n", "--name", "N", "--config", "{structural}"], 5,
     ("nodes[0].config.topN: must be a positive integer (-2)", "nodes[1].id: duplicate", "nodes[1].type")),
    (["update", "d", "--config", "{structural}"], 5, ("nodes[0].config.topN",)),
    (["publish", "d"], 5, ("no scoring method", "nodes[2].config.method")),
    (["publish", "d", "--dry-run"], 5, ("no scoring method", "nodes[2].config.method")),
]


def _argv(args: list[str], tmp_path: Path) -> list[str]:
    paths = _inputs(tmp_path)
    paths["missing"] = str(tmp_path / "does-not-exist.json")
    return [paths[a[1:-1]] if a.startswith("{") and a.endswith("}") else a for a in args]


@pytest.mark.parametrize(("args", "code", "fragments"), ERROR_TABLE + PROBLEM_TABLE,
                         ids=[" ".join(a) for a, _, _ in ERROR_TABLE + PROBLEM_TABLE])
def test_error_is_one_line_and_store_untouched(run: Run, populated: Path, tmp_path: Path,
                                               args: list[str], code: int, fragments: tuple[str, ...]) -> None:
    """Each failure exits with its docs/contract.md §6 code, prints one `flowctl: error:` line (plus one
    indented line per config problem), nothing on stdout, no traceback, and changes no byte."""
    argv = _argv(args, tmp_path)
    before = tree_bytes(populated)
    result = run(*argv)
    assert_error(result, code, *fragments, problems=(args, code, fragments) in PROBLEM_TABLE)
    assert tree_bytes(populated) == before


@pytest.mark.parametrize(("args", "code", "fragments"), ERROR_TABLE + PROBLEM_TABLE,
                         ids=[" ".join(a) for a, _, _ in ERROR_TABLE + PROBLEM_TABLE])
def test_json_error_is_one_object(run: Run, populated: Path, tmp_path: Path,
                                  args: list[str], code: int, fragments: tuple[str, ...]) -> None:
    """With --json every failure is exactly one JSON object on stderr and nothing on stdout."""
    argv = _argv(args, tmp_path)
    before = tree_bytes(populated)
    error = assert_json_error(run(*argv, "--json"), code)
    text = error["message"] + "\n" + "\n".join(f"{p['path']}: {p['message']}" for p in error.get("errors", []))
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert tree_bytes(populated) == before


def test_json_error_lists_config_problems(run: Run, tmp_path: Path) -> None:
    """An invalid config's --json error carries "errors": [{"path", "message"}] for every problem."""
    config = {"version": 2, "nodes": [{"id": "a", "type": "score", "config": {"method": "m"}},
                                      {"id": "b", "type": "rank", "config": {"topN": 0, "limit": -1}}],
              "edges": [{"source": "a", "target": "zz"}]}
    result = run("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", config), "--json")
    error = assert_json_error(result, 5, "3 problems")
    assert error["errors"] == [
        {"path": "nodes[1].config.topN", "message": "must be a positive integer (0)"},
        {"path": "nodes[1].config.limit", "message": "must be a positive integer (-1)"},
        {"path": "edges[0].target", "message": 'no node with id "zz"'},
    ]


def test_json_flag_before_command_applies_to_errors(run: Run) -> None:
    """--json before the command also turns errors into the JSON object."""
    result = run.runner.invoke(app, ["--json", "--store", str(run.store), "show", "ghost"])
    assert_json_error(result, 3, "ghost")


# -- no store --------------------------------------------------------------------


def test_no_store_found(tmp_path: Path) -> None:
    """Without --store, $FLOWCTL_STORE or a flowctl.toml upward: exit 3, telling to run `flowctl init`."""
    result = CliRunner().invoke(app, ["list"])
    assert_error(result, 3, "flowctl init", problems=False)
    assert_json_error(CliRunner().invoke(app, ["list", "--json"]), 3, "flowctl init")
    assert sorted(os.listdir(tmp_path)) == []


def test_store_option_pointing_nowhere(tmp_path: Path) -> None:
    """--store naming a directory without flowctl.toml exits 3 and says how to make one."""
    result = CliRunner().invoke(app, ["--store", str(tmp_path / "nowhere"), "show", "f"])
    assert_error(result, 3, "flowctl init", problems=False)
    assert not (tmp_path / "nowhere").exists()


# -- internal errors and tracebacks --------------------------------------------------


def test_unexpected_error_is_one_line_exit_70(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception exits 70 with one line and no traceback; FLOWCTL_DEBUG=1 lets it through."""
    from flowctl import flows

    def boom(self: Any, flow: str) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(flows.Flows, "resolve", boom)
    result = run("show", "f")
    assert_error(result, 70, "internal error", "RuntimeError: kaboom", "FLOWCTL_DEBUG=1", problems=False)
    assert_json_error(run("show", "f", "--json"), 70, "kaboom")
    debug = run("show", "f", env={"FLOWCTL_DEBUG": "1"})
    assert isinstance(debug.exception, RuntimeError)


# -- hostile names -----------------------------------------------------------------

HOSTILE = ["../x", "..", "/etc", "/tmp/evil", "a/b", "A", "Upper", "", "a\x00b", "a\\b", ".hidden",
           "-dash", "a..b", "k" * 256, "é", "a b", "~root"]
HOSTILE_TENANTS = [*HOSTILE, "t" * 64]


def _ids(values: list[str]) -> list[str]:
    return [repr(v) if len(v) < 20 else f"len{len(v)}" for v in values]


@pytest.mark.parametrize("name", HOSTILE, ids=_ids(HOSTILE))
def test_hostile_key_refused_before_any_file(run: Run, store: Path, tmp_path: Path, name: str) -> None:
    """A key that is not a-z0-9._- (1-255, no ..) exits 2 and nothing is created, in the store or beside it."""
    run.json("create", "ok", "--name", "OK")
    before = all_paths(tmp_path)
    for args in (["create", name, "--name", "N"], ["show", name], ["update", name, "--name", "x"],
                 ["publish", name], ["rollback", name], ["versions", name], ["delete", name, "--yes"]):
        result = run(*args)
        assert result.exit_code == 2, (args, result.exit_code, result.stderr)
        assert result.stderr.startswith(PREFIX) and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert all_paths(tmp_path) == before


@pytest.mark.parametrize("name", HOSTILE, ids=_ids(HOSTILE))
def test_hostile_id_refused(run: Run, tmp_path: Path, name: str) -> None:
    """--id follows the key rules: a hostile id exits 2 and creates nothing."""
    before = all_paths(tmp_path)
    result = run("create", "fine", "--name", "N", "--id", name)
    assert_error(result, 2, "flow id", problems=False)
    assert all_paths(tmp_path) == before


@pytest.mark.parametrize("name", HOSTILE_TENANTS, ids=_ids(HOSTILE_TENANTS))
def test_hostile_tenant_refused(run: Run, tmp_path: Path, name: str) -> None:
    """A bad tenant (key rules, at most 63 chars), by --tenant or $FLOWCTL_TENANT, exits 2 and creates nothing."""
    before = all_paths(tmp_path)
    assert_error(run("create", "fine", "--name", "N", "--tenant", name), 2, "tenant", problems=False)
    assert_error(run("list", "--tenant", name), 2, "tenant", problems=False)
    if "\x00" not in name:  # an environment variable cannot hold NUL
        assert_error(run("create", "fine", "--name", "N", env={"FLOWCTL_TENANT": name}), 2, "tenant", problems=False)
    assert all_paths(tmp_path) == before


def test_longest_names_are_accepted(run: Run, store: Path) -> None:
    """The limits are inclusive: a 255-char key and a 63-char tenant work end to end."""
    key, tenant = "k" * 255, "t" * 63
    head = run.json("create", key, "--name", "long", "--tenant", tenant)
    assert head["key"] == key and head["tenantId"] == tenant
    assert (store / "flows" / tenant / key / "flow.json").is_file()
    assert run.json("show", key, "--tenant", tenant)["key"] == key
    assert run.json("delete", key, "--yes", "--tenant", tenant)["deleted"] is True
    assert not (store / "flows" / tenant / key).exists()


def test_valid_name_characters(run: Run) -> None:
    """Keys may use a-z 0-9 . _ - and start with a digit."""
    for key in ("0start", "a.b_c-d", "x"):
        assert run.json("create", key, "--name", key)["key"] == key

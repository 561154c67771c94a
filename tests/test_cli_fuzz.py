"""Hostile input (docs/contract.md §2, §6, §7): generated garbage for every command's
arguments and input files.

For every input: the exit code is one of the documented ones (70 would be an
internal error: a bug), there is never a traceback, an error is one
`flowctl: error:` line on stderr (plus indented problem lines), and when the
command fails, or only reads, the store is byte-identical afterwards and
nothing appears outside it.

Run `pytest tests/test_cli_fuzz.py -rP` to see how many inputs were fuzzed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import Result

from conftest import Run, examples, flowctl_exe, scored, tree_bytes, write_config

DOCUMENTED = {0, 1, 2, 3, 4, 5, 7, 8, 74}
READ_ONLY = {"show", "versions", "list", "diff", "verify", "history", "export"}
COUNT: dict[str, int] = {"inputs": 0}

# Deterministic by default, randomized with --hypothesis-profile=long (conftest).
FUZZ = settings(max_examples=examples(200), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# --------------------------------------------------------------------------
# the store under attack, and the check made after every input
# --------------------------------------------------------------------------


class Target:
    """A store with flow f (v1, v2, draft changed) and g (never published),
    restored from a pristine copy whenever an input legitimately changed it."""

    def __init__(self, store: Path, tmp_path: Path) -> None:
        self.store = store
        self.run = Run(store)
        self.inputs = tmp_path / "inputs"
        self.inputs.mkdir()
        self.outside = tmp_path / "outside"
        self.outside.mkdir()
        (self.outside / "sentinel.json").write_text("{}\n")
        self.cwd = tmp_path
        assert self.run("create", "f", "--name", "F").exit_code == 0
        for i in (1, 2):
            cfg = write_config(self.inputs / f"seed{i}.json", scored(top_n=i))
            assert self.run("update", "f", "--config", cfg).exit_code == 0
            assert self.run("publish", "f", "-m", f"release {i}").exit_code == 0
        draft = write_config(self.inputs / "seed3.json", scored(top_n=3))
        assert self.run("update", "f", "--config", draft).exit_code == 0
        assert self.run("create", "g", "--name", "G").exit_code == 0
        self.flow_id = self.run.json("show", "f")["id"]
        self.pristine = tmp_path / "pristine"
        shutil.copytree(store, self.pristine)
        self.pristine_tree = tree_bytes(store)
        self.around = self._around()

    def _around(self) -> list[str]:
        return sorted(str(p.relative_to(self.cwd)) for p in self.cwd.rglob("*")
                      if not p.is_relative_to(self.store) and not p.is_relative_to(self.pristine)
                      and not p.is_relative_to(self.inputs))

    def file(self, name: str, data: bytes) -> str:
        path = self.inputs / name
        path.write_bytes(data)
        return str(path)

    def check(self, args: list[str], input: bytes | None = None, env: dict[str, str] | None = None,
              then: Callable[[Result], object] | None = None) -> Result:
        """Run one input and assert the contract; `then(result)` may look at the store
        before it is restored (if the input changed it legitimately)."""
        COUNT["inputs"] += 1
        before = tree_bytes(self.store)
        result = self.run(*args, input=input, env=env)
        COUNT[f"exit {result.exit_code}"] = COUNT.get(f"exit {result.exit_code}", 0) + 1
        output = result.stdout + result.stderr
        shown = (args, result.exit_code, output[-2000:])
        assert result.exit_code in DOCUMENTED, shown
        assert "Traceback" not in output and "internal error" not in output, shown
        if result.exit_code not in (0, 1):
            lines = result.stderr.rstrip("\n").split("\n")  # not splitlines(): \x1e etc. are not line ends
            if "--json" in (args[: args.index("--")] if "--" in args else args):
                error = json.loads(result.stderr)["error"]
                assert error["exit"] == result.exit_code, shown
            else:
                assert lines and lines[0].startswith("flowctl: error: "), shown
                assert all(line.startswith("  ") for line in lines[1:]), shown
        after = tree_bytes(self.store)
        if result.exit_code != 0 or args[0] in READ_ONLY or "--dry-run" in args:
            assert after == before, shown
        assert self._around() == self.around, shown
        assert (self.outside / "sentinel.json").read_text() == "{}\n"
        assert [p.name for p in self.outside.iterdir()] == ["sentinel.json"]
        if then is not None:
            then(result)
        if after != self.pristine_tree:
            shutil.rmtree(self.store)
            shutil.copytree(self.pristine, self.store)
        return result


@pytest.fixture
def target(store: Path, tmp_path: Path) -> Target:
    return Target(store, tmp_path)


@pytest.fixture(scope="module", autouse=True)
def count_inputs() -> Iterator[None]:
    """Prints how many inputs the module fed to flowctl (shown with -rP)."""
    COUNT.clear()
    COUNT["inputs"] = 0
    yield
    exits = ", ".join(f"{name}: {n}" for name, n in sorted(COUNT.items()) if name != "inputs")
    print(f"\ninputs fuzzed: {COUNT['inputs']} ({exits})")


# --------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------

# What argv can carry: any text but NUL-free surrogates (tested with real processes below).
# mypy infers a tuple display as tuple[str], not the stub's Collection[CategoryName] (a Literal).
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # type: ignore[arg-type]
nasty_names = st.sampled_from([
    "", ".", "..", "../f", "f/..", "/etc/passwd", "/", "a/b", "a\\b", "F", "Flow", "f\x00", "a\x00b",
    "x" * 255, "x" * 256, "x" * 4096, ".hidden", "-f", "--json", "a..b", "f.", "f-", "f_", "ＦＬＯＷ",
    "flow\n", " f", "f ", "$(rm -rf /)", "%s%n", "flows", "default", "~", "C:\\x", "con", "nul",
    "\u202ef", "ƒ", "İ", "\ud7ff",
])
keys = st.one_of(st.sampled_from(["f", "g", "h", "new"]), nasty_names, any_text,
                 st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True))
numbers = st.one_of(
    st.integers(-10, 10).map(str), st.integers().map(str),
    st.sampled_from(["", "0", "-1", "v0", "v1", "V2", "v-1", "1.0", "1e3", "0x1", "٣", "²", "１",
                     "99999999999999999999999999", "nan", "inf", "-inf", "active", "latest", "draft",
                     " 1", "1 ", "+1", "01", "v", "vv1"]),
    any_text,
)
notes = st.one_of(any_text, st.sampled_from(["", "a\nb", "a\rb", "\x00", "x" * 4096, "x" * 4097, "é" * 5000]),
                  st.text(max_size=300).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
statuses = st.one_of(st.sampled_from(["active", "draft", "paused", "archived", "ACTIVE", "deleted", ""]), any_text)
formats = st.one_of(st.sampled_from(["json", "toml", "text", "unified", "yaml", "JSON", ""]), any_text)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=20))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=max_leaves)


@st.composite
def mutated_config(draw: st.DrawFn) -> Any:
    """A valid config with one value somewhere replaced by something of another type."""
    config: Any = scored(top_n=draw(st.integers(1, 9)))
    path: list[Any] = []
    node = config
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append(key)
        node = node[key]
    replacement = draw(json_values(5))
    if not path:
        return replacement
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return config


@st.composite
def config_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file suffix, bytes) of a garbage, truncated, hostile or mutated config."""
    valid = json.dumps(scored()).encode()
    kind = draw(st.sampled_from(["bytes", "truncated", "json", "mutated", "nested", "nul", "utf8", "bom",
                                 "toml", "toml-nested", "huge-number", "duplicate-keys", "empty"]))
    if kind == "bytes":
        return ".json", draw(st.binary(max_size=500))
    if kind == "truncated":
        return ".json", valid[: draw(st.integers(0, len(valid) - 1))]
    if kind == "json":
        return ".json", json.dumps(draw(json_values())).encode()
    if kind == "mutated":
        return ".json", json.dumps(draw(mutated_config())).encode()
    if kind == "nested":
        depth = draw(st.sampled_from([63, 64, 65, 1000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        inner = opener * depth + "1" + closer * depth
        return ".json", (inner if opener == "[" else '{"version": 2, "nodes": [], "x": ' + inner + "}").encode()
    if kind == "nul":
        cut = draw(st.integers(0, len(valid)))
        return ".json", valid[:cut] + b"\x00" + valid[cut:]
    if kind == "utf8":
        cut = draw(st.integers(0, len(valid)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88"]))
        return ".json", valid[:cut] + bad + valid[cut:]
    if kind == "bom":
        return ".json", b"\xef\xbb\xbf" + valid
    if kind == "toml":
        return ".toml", draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    if kind == "toml-nested":
        depth = draw(st.sampled_from([65, 1000, 100_000]))
        return ".toml", ("a = " + "[" * depth + "]" * depth + "\n").encode()
    if kind == "huge-number":
        huge = b"1" + b"0" * 5000
        return ".json", b'{"version": 2, "nodes": [{"id": "r", "type": "rank", "config": {"topN": ' + huge + b"}}]}"
    if kind == "duplicate-keys":
        return ".json", b'{"version": 2, "version": 3, "nodes": [], "nodes": {}}'
    return ".json", b""


def options(draw: st.DrawFn, available: dict[str, st.SearchStrategy[str] | None]) -> list[str]:
    """Some of the options, in any order, each with a (usually hostile) value."""
    chosen = draw(st.lists(st.sampled_from(sorted(available)), max_size=4, unique=True))
    args: list[str] = []
    for name in chosen:
        strategy = available[name]
        args += [name] if strategy is None else [name, draw(strategy)]
    return args


GLOBALS: dict[str, st.SearchStrategy[str] | None] = {
    "--tenant": st.one_of(nasty_names, st.just("other")),
    "--actor": st.one_of(any_text, st.sampled_from(["", "\x00", "a\nb", "x" * 5000])),
    "--lock-timeout": st.one_of(st.sampled_from(["-1", "abc", "", "1e999", "0"]), numbers),
    "--json": None,
    "--no-color": None,
}
junk = st.lists(st.one_of(st.sampled_from(["--bogus", "-x", "--", "--version", "--json=1", "--yes=no", "-"]),
                          any_text), max_size=2)


@st.composite
def command_args(draw: st.DrawFn, command: str, target: Target) -> list[str]:
    flow = draw(st.one_of(keys, st.just(target.flow_id)))
    if command == "create":
        args = ["create", draw(keys)] + options(draw, {
            "--name": any_text, "--description": notes, "--status": statuses, "--id": keys,
            "--no-auto-assembly": None})
        if draw(st.booleans()):
            args += ["--name", draw(any_text)]
    elif command == "update":
        args = ["update", flow] + options(draw, {
            "--name": any_text, "--description": notes, "--status": statuses, "--row-version": numbers,
            "--set": any_text.map(lambda t: t if "=" in t else f"/nodes/0/config/{t}={t}"),
            "--unset": st.one_of(any_text, st.sampled_from(["/", "", "/nodes", "/nodes/9", "/version", "~"])),
            "--auto-assembly": None})
    elif command == "publish":
        args = ["publish", flow] + options(draw, {"-m": notes, "--row-version": numbers, "--dry-run": None,
                                                  "--quiet": None})
    elif command == "rollback":
        args = ["rollback", flow] + options(draw, {
            "--version": numbers, "-m": notes, "--expected-current-version": numbers, "--row-version": numbers,
            "--dry-run": None})
    elif command == "delete":
        args = ["delete", flow] + options(draw, {"--row-version": numbers, "--quiet": None})
        args += ["--yes"] if draw(st.integers(0, 4)) else []
        if "--row-version" not in args and "--yes" in args and flow in ("f", "g", target.flow_id):
            args += ["--row-version", "999"]  # keep the attack from simply deleting the flows
    elif command == "show":
        args = ["show", flow] + options(draw, {"--version": numbers, "--format": formats})
    elif command == "versions":
        args = ["versions", flow] + options(draw, {"--version": numbers})
    elif command == "list":
        cursor = st.one_of(any_text, st.binary(max_size=40).map(lambda b: __import__("base64").urlsafe_b64encode(b)
                                                                 .decode().rstrip("=")),
                           json_values(4).map(lambda v: __import__("base64").urlsafe_b64encode(
                               json.dumps(v).encode()).decode()))
        args = ["list"] + options(draw, {"--status": statuses, "--limit": numbers, "--cursor": cursor})
    elif command == "diff":
        selector = st.one_of(numbers, st.sampled_from(["-", "@", "@/nonexistent", "@.", "@" + str(target.inputs)]))
        args = ["diff", flow] + draw(st.lists(selector, max_size=3)) + options(draw, {
            "--format": formats, "--exit-code": None})
    elif command == "verify":
        args = ["verify"] + draw(st.lists(keys, max_size=1))
    elif command == "history":
        args = ["history", flow] + options(draw, {"--limit": numbers})
    elif command == "export":
        args = ["export", flow] + options(draw, {"--format": formats})
    else:
        raise AssertionError(command)
    return args + options(draw, GLOBALS) + draw(junk)


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

COMMANDS = ["create", "update", "publish", "rollback", "delete", "show", "versions", "list", "diff", "verify",
            "history", "export"]


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.parametrize("command", COMMANDS)
@FUZZ
@given(data=st.data())
def test_garbage_arguments(target: Target, command: str, data: st.DataObject) -> None:
    """Every command with generated option values, names and stray tokens."""
    args = data.draw(command_args(command, target), label="argv")
    target.check(args)


# Inputs a fuzz run once failed on, kept so every run tries them again.
FOUND_BY_FUZZING = [
    ["update", "f", "--set", "/nodes/0/config/\n=\n"],  # a newline echoed raw split the error line
    ["update", "f", "--set", "/nodes/score/config/w=1e400"],  # Infinity stored
    ["update", "f", "--set", '/nodes/score/config/w="\\ud800"'],  # a lone surrogate: exit 70
    ["show", "f", "--version", "9" * 5000],  # int() past Python's digit limit: exit 70
    ["diff", "f", "foo"],
]


@pytest.mark.parametrize("args", FOUND_BY_FUZZING, ids=range(len(FOUND_BY_FUZZING)))
def test_inputs_found_by_fuzzing(target: Target, args: list[str]) -> None:
    """Each input a fuzz run found a bug with still meets the contract checked above."""
    result = target.check(args)
    assert result.exit_code == 2, (args, result.stderr)


@pytest.mark.slow
@pytest.mark.fuzz
@pytest.mark.parametrize("command", ["create", "update", "import", "diff"])
@FUZZ
@given(data=st.data(), config=config_files())
def test_garbage_input_files(target: Target, command: str, data: st.DataObject,
                             config: tuple[str, bytes]) -> None:
    """Config files (and bundles) that are garbage, truncated, nested past the
    limit, NUL-bearing, not UTF-8, TOML garbage or type-confused, from a file or stdin."""
    suffix, raw = config
    from_stdin = suffix == ".json" and data.draw(st.booleans(), label="stdin")
    source = "-" if from_stdin else target.file(f"input{suffix}", raw)
    if command == "create":
        args = ["create", data.draw(st.sampled_from(["h", "f"])), "--name", "H", "--config", source]
    elif command == "update":
        args = ["update", "f", "--config", source]
    elif command == "import":
        args = ["import", source] + data.draw(st.sampled_from([[], ["--key", "h"], ["--key", "h", "--id", "i"]]))
    else:
        args = ["diff", "f", "@" + source if source != "-" else "-", data.draw(st.sampled_from(["draft", "1"]))]
    target.check(args + data.draw(st.sampled_from([[], ["--json"]])), input=raw if from_stdin else None)


@pytest.mark.slow
@pytest.mark.fuzz
@FUZZ
@given(data=st.data())
def test_mutated_bundles(target: Target, data: st.DataObject) -> None:
    """An exported bundle with one value replaced, one record dropped or reordered:
    import refuses it with a documented code, or imports a flow that verifies."""
    bundle = json.loads(target.run("export", "f").stdout)
    section = data.draw(st.sampled_from(["flow", "versions", "audit", "top"]))
    if section == "top":
        victim: Any = bundle
    elif section == "flow":
        victim = bundle["flow"]
    else:
        items = bundle[section]
        action = data.draw(st.sampled_from(["drop", "swap", "edit"]))
        if action == "drop":
            items.pop(data.draw(st.integers(0, len(items) - 1)))
            victim = None
        elif action == "swap" and len(items) > 1:
            items[0], items[-1] = items[-1], items[0]
            victim = None
        else:
            victim = items[data.draw(st.integers(0, len(items) - 1))]
    if isinstance(victim, dict):
        field = data.draw(st.sampled_from(sorted(victim)))
        victim[field] = data.draw(json_values(6))
    path = target.file("bundle.json", json.dumps(bundle).encode())
    target.check(["import", path, "--key", "imported", "--id", "imported-id"])


def test_import_never_creates_a_flow_that_verify_rejects(target: Target) -> None:
    """A bundle whose audit log lacks the publish line of v2 must be refused (exit 8),
    not imported into a flow that `verify` then reports."""
    bundle = json.loads(target.run("export", "f").stdout)
    bundle["audit"] = [entry for entry in bundle["audit"] if entry.get("version") != 2]
    path = target.file("bundle.json", json.dumps(bundle).encode())
    result = target.run("import", path, "--key", "imported", "--id", "imported-id")
    assert result.exit_code == 8 or target.run("verify", "imported").exit_code == 0


@pytest.mark.parametrize("name", ["..", "../escape", "/tmp/abs", "a/b", "a\\b", "UPPER", "nul\x00", "x" * 256,
                                  "", " ", ".dot", "-dash", "é"])
@pytest.mark.parametrize("where", ["key", "id", "tenant", "flow"])
def test_bad_names_exit_2_and_touch_nothing(target: Target, name: str, where: str) -> None:
    """Every name rule (docs/contract.md §2): exit 2 (or, for a FLOW that cannot name a flow, 2/3), nothing written."""
    if where == "key":
        args = ["create", name, "--name", "x"]
    elif where == "id":
        args = ["create", "okay", "--name", "x", "--id", name]
    elif where == "tenant":
        args = ["create", "okay", "--name", "x", "--tenant", name]
    else:
        args = ["publish", name]
    result = target.check(args)
    assert result.exit_code == 2 or (where == "flow" and result.exit_code == 3), (args, result.output)
    assert not (target.store / "flows" / "default" / "okay").exists()


def test_config_over_the_size_limit_exits_2(target: Target) -> None:
    """A config past 16 MiB is refused (exit 2) without reading it all."""
    path = target.inputs / "huge.json"
    with open(path, "wb") as fh:
        fh.write(b'{"version": 2, "nodes": [], "pad": "')
        fh.write(b"x" * (16 * 1024 * 1024))
        fh.write(b'"}')
    result = target.check(["update", "f", "--config", str(path)])
    assert result.exit_code == 2 and "MiB" in result.stderr
    result = target.check(["update", "f", "--config", "-"], input=path.read_bytes())
    assert result.exit_code == 2 and "MiB" in result.stderr


@pytest.mark.parametrize("depth,code", [(63, 0), (64, 2), (65, 2), (200_000, 2)])
def test_nesting_limit(target: Target, depth: int, code: int) -> None:
    """A config nested past 64 levels (root object + 64 arrays) is refused with exit 2; 64 levels pass."""
    inner = "[" * depth + "]" * depth
    path = target.file("deep.json", ('{"version": 2, "nodes": [], "x": ' + inner + "}").encode())
    result = target.check(["update", "f", "--config", path])
    assert result.exit_code == code
    if depth > 64:
        assert "nested more than 64 levels" in result.stderr


def test_symlinked_flow_directory_is_refused(target: Target) -> None:
    """A flow directory that is a symlink leading outside: every command refuses
    it (exit 8), nothing is written outside, and create cannot go through it."""
    shutil.copytree(target.store / "flows" / "default" / "f", target.outside / "evil")
    before_outside = tree_bytes(target.outside)
    (target.store / "flows" / "default" / "evil").symlink_to(target.outside / "evil")
    target.pristine_tree = tree_bytes(target.store)
    for args in (["show", "evil"], ["versions", "evil"], ["publish", "evil"], ["update", "evil", "--name", "x"],
                 ["rollback", "evil", "--version", "1"], ["delete", "evil", "--yes"], ["create", "evil", "--name", "x"],
                 ["history", "evil"], ["export", "evil"], ["diff", "evil"], ["verify", "evil"]):
        result = target.run(*args)
        assert result.exit_code == 8, (args, result.output)
        assert "symlink" in result.stderr and "Traceback" not in result.output
    assert tree_bytes(target.outside) == before_outside
    (target.store / "flows" / "default" / "evil").unlink()


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"f\xff", b"\xed\xa0\x80", b"caf\xc3"])
def test_undecodable_argv_bytes_from_a_real_process(store: Path, raw: bytes) -> None:
    """Bytes that are not UTF-8 in argv (surrogate-escaped by Python) as key, notes
    or tenant: a documented exit code and one clear line, never a traceback."""
    before = tree_bytes(store)
    for args in ([b"create", raw, b"--name", b"x"], [b"show", raw], [b"publish", b"f", b"-m", raw],
                 [b"list", b"--tenant", raw], [b"list", b"--cursor", raw]):
        exe = os.fsencode(flowctl_exe())
        result = subprocess.run([exe, b"--store", os.fsencode(str(store)), *args], capture_output=True,
                                timeout=60)
        assert result.returncode in DOCUMENTED, (args, result.returncode, result.stderr)
        assert b"Traceback" not in result.stderr and b"internal error" not in result.stderr, result.stderr
    assert tree_bytes(store) == before




@pytest.mark.parametrize(("name", "text"), [
    ("nan.json", '{"stages": {"scoring": {"method": "x", "cutoff": NaN}}}'),
    ("inf.json", '{"stages": {"scoring": {"method": "x", "cutoff": -Infinity}}}'),
    ("nan.toml", "[stages.scoring]\nmethod = 'x'\ncutoff = nan\n"),
    ("inf.toml", "[stages.scoring]\nmethod = 'x'\ncutoff = inf\n"),
    ("null.json", "null"),
])
def test_configs_json_cannot_store_are_refused(target: Target, name: str, text: str) -> None:
    """NaN/Infinity (JSON extensions, TOML nan/inf) and a null config exit 2 and change nothing."""
    path = target.file(name, text.encode())
    result = target.check(["update", "f", "--config", path])
    assert result.exit_code == 2, result.output


def test_import_with_a_non_integer_audit_version_is_refused(target: Target) -> None:
    """An audit line whose version is not a number is a malformed bundle (exit 2, the audit
    line named, as for a store's own log), never a crash."""
    bundle = json.loads(target.run("export", "f").stdout)
    for entry in bundle["audit"]:
        if entry.get("action") == "publish":
            entry["version"] = [entry["version"]]
    path = target.file("bundle.json", json.dumps(bundle).encode())
    result = target.check(["import", path, "--key", "imported", "--id", "imported-id"])
    assert result.exit_code == 2 and 'without an integer "version"' in result.stderr, result.output

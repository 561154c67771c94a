"""Every user input document (--config files, stdin, --set values, diff's
@FILE, bundles for import) is refused with exit 2 and one line naming where,
when it is too deep or too big for the parser, or holds what cannot be
stored: huge integers, non-finite numbers, lone surrogates, duplicate keys.
The store is left as it was."""

from __future__ import annotations

import json
import resource
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

from flowctl import tomlio

from conftest import Run, assert_error, flowctl_exe, read_head, scored, tree_bytes, write_config

HUGE = "1" + "0" * 5000  # past Python's 4300-digit limit for int()
LEAKS = ("set_int_max_str_digits", "utf-8-sig", "Traceback", "internal error")


def refused(result: Result, *fragments: str) -> None:
    """Exit 2 with one error line naming `fragments`, and no Python internals."""
    assert_error(result, 2, *fragments, problems=False)
    assert not any(leak in result.stderr for leak in LEAKS), result.stderr


def with_config(tmp_path: Path, text: str, name: str = "c.json") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- 2. bounded memory and time for TOML -----------------------------------------


def _cap_memory() -> None:
    one_gib = 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (one_gib, one_gib))


def capped(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed flowctl as a real process, under a 1 GiB address-space cap."""
    return subprocess.run([flowctl_exe(), "--store", str(store), *args], capture_output=True, text=True,
                          timeout=60, preexec_fn=_cap_memory)


@pytest.fixture
def dotted_key_file(tmp_path: Path) -> Path:
    """200 KB of TOML: one key of 100,000 dotted parts (tomllib once took 24 GB on it)."""
    path = tmp_path / "deep.toml"
    path.write_text("a." * 100_000 + "a = 1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["create", "update", "diff", "import"])
def test_dotted_key_toml_is_refused_in_bounded_memory(run: Run, flow: str, store: Path,
                                                      dotted_key_file: Path, command: str) -> None:
    """A 100,000-part dotted key is refused (exit 2, one line) before tomllib sees it,
    by every command that reads a document, within 1 GiB and a minute."""
    assert capped(store, "show", flow, "--json").returncode == 0  # the cap leaves room to work
    args = {
        "create": ["create", "g", "--name", "G", "--config", str(dotted_key_file)],
        "update": ["update", flow, "--config", str(dotted_key_file)],
        "diff": ["diff", flow, "draft", f"@{dotted_key_file}"],
        "import": ["import", str(dotted_key_file)],
    }[command]
    before = tree_bytes(store)
    result = capped(store, *args)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("flowctl: error: ")
    assert "nested more than 64 levels deep" in result.stderr
    assert tree_bytes(store) == before


@pytest.mark.parametrize("text", [
    "[" + ".".join(["t"] * 64) + "]\nx = 1\n",  # a table header 64 parts deep
    "[" + ".".join(["t"] * 40) + "]\n" + ".".join(["k"] * 40) + " = 1\n",  # header and key together
    "x = " + "[" * 70 + "]" * 70 + "\n",  # arrays
    "x = " + "{a = " * 70 + "1" + "}" * 70 + "\n",  # inline tables
])
def test_deep_toml_is_refused_before_parsing(run: Run, flow: str, tmp_path: Path, text: str) -> None:
    """TOML nested past 64 levels by headers, keys, arrays or inline tables exits 2."""
    result = run("update", flow, "--config", with_config(tmp_path, text, "deep.toml"))
    refused(result, "deep.toml: nested more than 64 levels deep")


def test_toml_just_under_the_limit_is_read(run: Run, flow: str, tmp_path: Path) -> None:
    """The scan does not refuse what is within the limit: 63 key parts below the root pass
    the depth check (and reach validation)."""
    text = "version = 2\nnodes = []\n" + ".".join(["k"] * 63) + " = 1\n"
    result = run("update", flow, "--config", with_config(tmp_path, text, "ok.toml"))
    assert result.exit_code == 0, result.stderr


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_KEYS = st.text(alphabet="ab.\"' #[]{}=,\n", min_size=1, max_size=4)
_SCALARS = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), _KEYS, st.booleans())
_TREES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(_KEYS, inner, max_size=3)), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_KEYS, _TREES, max_size=4))
def test_toml_scan_never_counts_deeper_than_the_document(document: dict[str, Any]) -> None:
    """The pre-scan's depth is never more than the parsed depth, so it refuses nothing the
    parsed check would accept (keys and strings full of TOML punctuation included)."""
    import tomli_w

    text = tomli_w.dumps(document)
    assert tomllib.loads(text) == document
    assert not tomlio.toml_too_deep(text, _depth(document))


# -- 3. lone surrogates -----------------------------------------------------------


def test_lone_surrogate_in_a_config_value_is_refused(run: Run, flow: str, tmp_path: Path) -> None:
    """A string holding the escape \\ud800 exits 2 naming where (it once crashed the write, 70)."""
    config = json.dumps(scored()).replace('"propensity"', '"x\\ud800"')
    result = run("update", flow, "--config", with_config(tmp_path, config))
    refused(result, "c.json: the string at /nodes/1/config/method holds \\ud800, a lone surrogate", "UTF-8")


def test_lone_surrogate_in_a_key_is_refused(run: Run, flow: str) -> None:
    """An object key with a lone surrogate, from stdin, exits 2 naming the object."""
    result = run("update", flow, "--config", "-", input='{"version": 2, "nodes": [], "k\\udfff": 1}')
    refused(result, "stdin: a key at the top level holds \\udfff")


def test_lone_surrogate_in_a_set_value_or_path_is_refused(run: Run, flow: str, store: Path) -> None:
    """--set with a surrogate in its JSON value, or in its path (argv bytes that are not
    UTF-8), exits 2 and writes nothing."""
    before = read_head(store, flow)
    refused(run("update", flow, "--set", '/nodes/score/config/method="\\ud800"'), "--set /nodes/score/config/method",
            "lone surrogate")
    refused(run("update", flow, "--set", "/nodes/score/config/\udcff=1"), "the path holds \\udcff")
    assert read_head(store, flow) == before


# -- 4. integers past Python's digit limit ----------------------------------------


def test_huge_integer_in_a_set_value_is_refused_plainly(run: Run, flow: str) -> None:
    """A 5,001-digit --set value exits 2 saying so, not quoting Python's limit or the value."""
    result = run("update", flow, "--set", f"/nodes/rank/config/topN={HUGE}")
    refused(result, "--set /nodes/rank/config/topN: a number has more than 4300 digits")
    assert HUGE not in result.stderr


@pytest.mark.parametrize("name", ["c.json", "c.toml"])
def test_huge_integer_in_a_config_file_is_refused_plainly(run: Run, flow: str, tmp_path: Path, name: str) -> None:
    """A JSON or TOML config with a 5,001-digit integer exits 2 in plain words."""
    text = f'{{"version": 2, "nodes": [], "n": {HUGE}}}' if name.endswith("json") else f"n = {HUGE}\n"
    refused(run("update", flow, "--config", with_config(tmp_path, text, name)), f"{name}: a number has more than")


def test_a_byte_order_mark_is_accepted_and_not_stored(run: Run, flow: str, tmp_path: Path, store: Path) -> None:
    """A config saved with a UTF-8 BOM (as Windows editors do) reads like one without
    (decision: accept it; it is not part of the document)."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(scored(top_n=9)).encode())
    result = run("update", flow, "--config", str(path))
    assert result.exit_code == 0, result.stderr
    assert read_head(store, flow)["draftConfig"] == scored(top_n=9)


# -- 5. non-finite numbers --------------------------------------------------------


def test_overflowing_set_value_is_refused(run: Run, flow: str, store: Path) -> None:
    """--set w=1e400 (json reads it as infinity) exits 2 instead of storing Infinity."""
    before = read_head(store, flow)
    result = run("update", flow, "--set", "/nodes/score/config/w=1e400")
    refused(result, "--set /nodes/score/config/w: the number at the top level is infinite")
    assert read_head(store, flow) == before


@pytest.mark.parametrize(("value", "words"), [("1e400", "infinite"), ("-1e400", "infinite"), ("NaN", "NaN"),
                                              ("Infinity", "infinite")])
def test_non_finite_number_in_a_config_file_is_refused(run: Run, flow: str, tmp_path: Path,
                                                       value: str, words: str) -> None:
    """A config file with an overflowing number or a NaN/Infinity literal exits 2 with its path."""
    text = json.dumps(scored()).replace('"topN": 5', f'"topN": {value}')
    refused(run("update", flow, "--config", with_config(tmp_path, text)),
            f"c.json: the number at /nodes/2/config/topN is {words}")


def test_non_finite_number_in_diff_file_and_stdin_is_refused(run: Run, flow: str, tmp_path: Path) -> None:
    """diff @FILE and diff - refuse 1e400 too (exit 2), as a config would be."""
    text = json.dumps(scored()).replace('"topN": 5', '"topN": 1e999')
    refused(run("diff", flow, "draft", "@" + with_config(tmp_path, text)), "the number at /nodes/2/config/topN")
    refused(run("diff", flow, "draft", "-", input=text), "stdin: the number at /nodes/2/config/topN")


def test_non_finite_number_in_toml_names_its_path(run: Run, flow: str, tmp_path: Path) -> None:
    """TOML's inf and nan, and 1e400, exit 2 naming the key."""
    refused(run("update", flow, "--config", with_config(tmp_path, "w = nan\n", "c.toml")), "the number at /w is NaN")
    refused(run("update", flow, "--config", with_config(tmp_path, "w = 1e400\n", "c.toml")), "/w is infinite")


@pytest.mark.parametrize(("value", "shown"), [(1e32, "1e+32"), (3.0, "3.0")])
def test_float_rank_limit_is_a_structural_error(run: Run, flow: str, tmp_path: Path, value: float,
                                                shown: str) -> None:
    """topN must be an integer: a float, even a whole one, exits 5 like other bad limits
    (this was already so: `_is_positive_int` checks `type(value) is int`)."""
    config = scored()
    config["nodes"][2]["config"]["topN"] = value
    result = run("update", flow, "--config", write_config(tmp_path / "c.json", config))
    assert_error(result, 5, f"nodes[2].config.topN: must be a positive integer ({shown})", problems=True)


def test_toml_dates_are_refused(run: Run, flow: str, tmp_path: Path) -> None:
    """A TOML date has no JSON form: exit 2 naming the key (it crashed the write, exit 70)."""
    refused(run("update", flow, "--config", with_config(tmp_path, "d = 2020-01-01\n", "c.toml")),
            "the value at /d is a TOML date or time")


# -- 6. duplicate keys ------------------------------------------------------------


def test_duplicate_top_level_key_is_refused(run: Run, flow: str, tmp_path: Path, store: Path) -> None:
    """`{"nodes": [...], "nodes": []}` exits 2 instead of silently keeping the last (empty) list."""
    before = read_head(store, flow)
    text = '{"version": 2, "nodes": ' + json.dumps(scored()["nodes"]) + ', "nodes": []}'
    refused(run("update", flow, "--config", with_config(tmp_path, text)),
            'c.json: duplicate key "nodes" at the top level')
    assert read_head(store, flow) == before


def test_duplicate_nested_key_names_its_object(run: Run, flow: str, tmp_path: Path) -> None:
    """A key twice in a node, from a file or from stdin, exits 2 with the node's pointer."""
    text = json.dumps(scored()).replace('"id": "rank"', '"id": "rank", "id": "other"')
    refused(run("update", flow, "--config", with_config(tmp_path, text)), 'duplicate key "id" at /nodes/2')
    refused(run("create", "g", "--name", "G", "--config", "-", input=text), 'stdin: duplicate key "id" at /nodes/2')


def test_duplicate_key_in_set_value_and_diff_file_is_refused(run: Run, flow: str, tmp_path: Path) -> None:
    """--set values and diff's @FILE are documents too: duplicates exit 2."""
    refused(run("update", flow, "--set", '/nodes/rank/config={"topN": 1, "topN": 2}'), 'duplicate key "topN"')
    text = json.dumps(scored()).replace('"version": 2', '"version": 2, "version": 2')
    refused(run("diff", flow, "draft", "@" + with_config(tmp_path, text)), 'duplicate key "version" at the top level')


def test_duplicate_key_in_a_bundle_is_refused(run: Run, flow: str, tmp_path: Path, store: Path) -> None:
    """A bundle for import with a key twice exits 2 before anything is imported."""
    bundle = tmp_path / "b.json"
    bundle.write_text('{"bundleVersion": 1, "flow": {"key": "x", "key": "y"}, "versions": [], "audit": []}')
    before = tree_bytes(store)
    refused(run("import", str(bundle)), 'b.json: duplicate key "key" at /flow')
    assert tree_bytes(store) == before

"""Kill at every write point (docs/contract.md §7): every operation is all-or-nothing.

The real CLI runs in a child process whose os-level mutating calls
(`os.write`, `os.fsync`, `os.replace`, `os.link`, `os.rename`, `os.unlink`,
`os.ftruncate`, `os.mkdir`, `os.rmdir`, and `os.open` with a write or create
flag) are wrapped by a small script written into tmp_path: the k-th call does
`os._exit(137)` instead of running, the way SQLite's crash tests cut a commit
at every point. No switch exists in the product for this.

For an operation we first run it unharmed (kill point 0) to count its K
mutating calls and to record the state it leaves; then, for every k in 1..K,
on a fresh copy of the prepared store we kill it before its k-th call and
check:

- readers (`list`, `show`, `versions`, `show --version latest`, the audit
  as the core reads it), *before any repair*, see exactly the state before
  the operation or exactly the state after it;
- `verify --repair` then `verify` exit 0, and the store's bytes then equal
  the bytes before or after the operation (lock files aside);
- the natural next write (a retry for create/delete, another update for the
  others) completes or drops the cut-off operation itself: after it and a
  `verify --repair` the bytes equal those of the same write made on the
  clean before- or after-state.

Run `pytest tests/test_journal_crash.py -rP` to see the kill points
exercised per operation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowctl.flows import Flows
from flowctl.store import Store

from conftest import Run, scored, tree_bytes, write_config

pytestmark = pytest.mark.slow

# The wrapper: install the counting wrappers after importing flowctl (so no
# import-time work is counted), then run the console script's main().
KILL_WRAPPER = r'''
import os
import sys

kill_at = int(os.environ["FLOWCTL_KILL_AT"])
log_path = os.environ.get("FLOWCTL_KILL_LOG")
fault = os.environ.get("FLOWCTL_FAULT")  # "eio", "enospc": an error instead of a kill

import shutil  # noqa: F401  (decides rmtree's implementation before we wrap)
from flowctl.cli import main

calls = []
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _mutating_open(path, flags, *args, **kwargs):
    return bool(flags & WRITE_FLAGS)


def _wrap(name, mutating=None):
    real = getattr(os, name)

    def wrapper(*args, **kwargs):
        if mutating is None or mutating(*args, **kwargs):
            calls.append(name)
            if len(calls) == kill_at:
                import errno
                if fault == "eio":
                    raise OSError(errno.EIO, "injected I/O error")
                if fault == "enospc":
                    if name == "write" and len(args) > 1 and len(args[1]) > 1:
                        real(args[0], bytes(args[1])[: len(args[1]) // 2])  # a full disk takes what fits
                    raise OSError(errno.ENOSPC, "No space left on device")
                os._exit(137)
        return real(*args, **kwargs)

    setattr(os, name, wrapper)


for _name in ("write", "fsync", "replace", "link", "rename", "unlink", "ftruncate", "mkdir", "rmdir"):
    _wrap(_name)
_wrap("open", _mutating_open)

if log_path:
    import atexit

    def _dump():
        with open(log_path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(calls))

    atexit.register(_dump)

sys.argv[0] = "flowctl"
main()
'''

KILLED = 137


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def run_killed(wrapper: Path, store: Path, args: list[str], kill_at: int,
               log: Path | None = None, fault: str = "kill") -> subprocess.CompletedProcess[str]:
    """Run `flowctl --store STORE ARGS` in a child killed at its kill_at-th mutating
    call (0: never); with fault="eio" that call fails with EIO instead."""
    env = {**os.environ, "FLOWCTL_KILL_AT": str(kill_at), "FLOWCTL_FAULT": fault}
    if log is not None:
        env["FLOWCTL_KILL_LOG"] = str(log)
    return subprocess.run([sys.executable, str(wrapper), "--store", str(store), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def views(store: Path, keys: list[str]) -> dict[str, Any]:
    """What readers see: list, and per flow show / versions / latest snapshot / audit.

    Read-only commands only, in-process; each entry is (exit code, parsed JSON).
    """
    run = Run(store)

    def read(*args: str) -> tuple[int, Any]:
        result = run(*args, "--json")
        assert "Traceback" not in result.output
        return result.exit_code, json.loads(result.stdout) if result.exit_code == 0 else None

    seen: dict[str, Any] = {"list": read("list", "--limit", "1000")}
    flows = Flows(Store.open(store), "default", "reader")
    for key in keys:
        seen[f"show {key}"] = read("show", key)
        seen[f"versions {key}"] = read("versions", key)
        seen[f"latest {key}"] = read("show", key, "--version", "latest")
        try:
            seen[f"audit {key}"] = flows.history(key)
        except Exception as exc:
            seen[f"audit {key}"] = type(exc).__name__
    return seen


def repair_and_verify(store: Path) -> None:
    """`verify --repair` and then a plain `verify` are both clean."""
    run = Run(store)
    repaired = run("verify", "--repair")
    assert repaired.exit_code == 0, repaired.output
    checked = run("verify", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {"ok": True, "problems": []}


def copy_store(source: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
    return target


def invoke_ok(store: Path, args: list[str], allowed: tuple[int, ...] = (0,)) -> int:
    result = Run(store)(*args)
    assert result.exit_code in allowed, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result.exit_code


def prepare_base(root: Path, work: Path) -> Path:
    """A store with flow f (v1..v3, a changed draft) and an untouched witness g (v1)."""
    run = Run(root)
    assert run("create", "f", "--name", "F").exit_code == 0
    for i in (1, 2, 3):
        cfg = write_config(work / f"f{i}.json", scored(top_n=i))
        assert run("update", "f", "--config", cfg).exit_code == 0
        assert run("publish", "f", "-m", f"release {i}").exit_code == 0
    assert run("update", "f", "--config", write_config(work / "f9.json", scored(top_n=9))).exit_code == 0
    assert run("create", "g", "--name", "G", "--config",
               write_config(work / "g.json", scored(method="churn"))).exit_code == 0
    assert run("publish", "g").exit_code == 0
    repair_and_verify(root)
    return root


class Scenario:
    """One operation cut at every kill point on copies of one prepared store."""

    def __init__(self, name: str, base: Path, args: list[str], keys: list[str],
                 next_write: list[str], next_allowed: tuple[int, ...] = (0,)) -> None:
        self.name, self.base, self.args, self.keys = name, base, args, keys
        self.next_write, self.next_allowed = next_write, next_allowed


def exercise(scenario: Scenario, tmp_path: Path, fault: str = "kill") -> dict[str, int]:
    """Run the scenario at every kill point (or, fault="eio", with an I/O error
    at every write point); return the figures."""
    wrapper = tmp_path / "kill_wrapper.py"
    wrapper.write_text(KILL_WRAPPER, encoding="utf-8")
    work = tmp_path / f"{fault}-{scenario.name}"
    work.mkdir()

    # The state before: the base as readers see it, and its bytes once repaired
    # (a base may itself hold a cut-off operation, which readers already see completed).
    before_views = views(scenario.base, scenario.keys)
    before = copy_store(scenario.base, work / "before")
    repair_and_verify(before)
    before_tree = tree_bytes(before)
    assert views(before, scenario.keys) == before_views, "repair changed what readers see"

    # The state after: the operation run to the end (kill point 0), counting its calls.
    after = copy_store(scenario.base, work / "after")
    log = work / "calls.log"
    clean = run_killed(wrapper, after, scenario.args, 0, log)
    assert clean.returncode == 0, clean.stderr
    calls = log.read_text(encoding="utf-8").split("\n")
    after_views = views(after, scenario.keys)
    assert after_views != before_views, "the operation changed nothing readers can see"
    repair_and_verify(after)
    after_tree = tree_bytes(after)

    # The same operation counted twice gives the same count (the wrapper is deterministic).
    again = copy_store(scenario.base, work / "again")
    log2 = work / "calls2.log"
    assert run_killed(wrapper, again, scenario.args, 0, log2).returncode == 0
    assert log2.read_text(encoding="utf-8").split("\n") == calls

    # The next write made on the clean states: what a retried or later write must give.
    expected_next = []
    for state in (before, after):
        target = copy_store(state, work / f"next-{state.name}")
        invoke_ok(target, scenario.next_write, scenario.next_allowed)
        repair_and_verify(target)
        expected_next.append(tree_bytes(target))

    outcomes = {"before": 0, "after": 0}
    errors: dict[int, int] = {}
    for k in range(1, len(calls) + 1):
        store = copy_store(scenario.base, work / "cut")
        result = run_killed(wrapper, store, scenario.args, k, fault=fault)
        where = f"{scenario.name}: {fault} at call {k}/{len(calls)} ({calls[k - 1]})"
        if fault == "kill":
            assert result.returncode == KILLED, (where, result.returncode, result.stderr)
        else:  # reported as an I/O error (74), or after the commit point a warning (0)
            assert result.returncode in (0, 74), (where, result.returncode, result.stderr)
            assert len(result.stderr.splitlines()) <= 1, (where, result.stderr)
            errors[result.returncode] = errors.get(result.returncode, 0) + 1
        assert "Traceback" not in result.stderr

        # Readers, before any repair, see all or nothing.
        seen = views(store, scenario.keys)
        assert seen in (before_views, after_views), where
        outcomes["before" if seen == before_views else "after"] += 1

        # The next write, on a copy, completes or drops the cut-off operation.
        following = copy_store(store, work / "following")
        invoke_ok(following, scenario.next_write, scenario.next_allowed)
        repair_and_verify(following)
        assert tree_bytes(following) in expected_next, where

        # verify --repair leaves exactly the state before or after, byte for byte.
        repair_and_verify(store)
        tree = tree_bytes(store)
        assert tree in (before_tree, after_tree), where
        assert (tree == after_tree) == (seen == after_views), f"{where}: repair changed what readers saw"

    # Both sides of the commit point were exercised.
    assert outcomes["before"] >= 1 and outcomes["after"] >= 1, outcomes
    figures = {f"{fault}_points": len(calls), **outcomes}
    if fault != "kill":
        figures.update({f"exit {code}": n for code, n in sorted(errors.items())})
    print(f"{fault} points {scenario.name}: {figures} calls={','.join(calls)}")
    return figures


def cut_store(source: Path, target: Path, wrapper: Path, args: list[str], call: str, *, after: bool) -> Path:
    """A copy of `source` holding `args` killed right before (or after) its first `call`."""
    log = target.parent / f"{target.name}.log"
    probe = copy_store(source, target.parent / f"{target.name}-probe")
    assert run_killed(wrapper, probe, args, 0, log).returncode == 0
    calls = log.read_text(encoding="utf-8").split("\n")
    kill_at = calls.index(call) + (2 if after else 1)  # 1-based
    store = copy_store(source, target)
    assert run_killed(wrapper, store, args, kill_at).returncode == KILLED
    return store


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


@pytest.fixture
def base(store: Path, tmp_path: Path) -> Path:
    return prepare_base(store, tmp_path)


def test_create_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """create: the staged directory's rename is the commit point; a retry after a
    kill either creates the flow or finds it (exit 4)."""
    cfg = write_config(tmp_path / "h.json", scored(top_n=2, method="uplift"))
    args = ["create", "h", "--name", "H", "--description", "new", "--config", cfg]
    exercise(Scenario("create", base, args, ["f", "g", "h"], args, (0, 4)), tmp_path)


def test_update_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """update: audit line ahead, the head's replace is the commit point."""
    cfg = write_config(tmp_path / "u.json", scored(top_n=7))
    args = ["update", "f", "--name", "F renamed", "--status", "paused", "--config", cfg]
    exercise(Scenario("update", base, args, ["f", "g"], ["update", "f", "--description", "next write"]),
             tmp_path)


def test_publish_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """publish: the snapshot's exclusive link is the commit point; index and head
    are completed forward by readers, the next write and verify --repair."""
    args = ["publish", "f", "-m", "release 4"]
    exercise(Scenario("publish", base, args, ["f", "g"], ["update", "f", "--description", "next write"]),
             tmp_path)


def test_rollback_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """rollback: like publish (a new version holding v1's config)."""
    args = ["rollback", "f", "--version", "1", "-m", "bad release"]
    exercise(Scenario("rollback", base, args, ["f", "g"], ["update", "f", "--description", "next write"]),
             tmp_path)


def test_delete_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """delete: renaming the directory away is the commit point; a retry finishes
    the job or finds nothing (exit 3)."""
    args = ["delete", "f", "--yes"]
    exercise(Scenario("delete", base, args, ["f", "g"], args, (0, 3)), tmp_path)


def test_import_is_all_or_nothing(base: Path, tmp_path: Path) -> None:
    """import: the whole history is staged, then renamed into place like create."""
    bundle = Run(base)("export", "f")
    assert bundle.exit_code == 0
    path = tmp_path / "f.bundle.json"
    path.write_text(bundle.stdout, encoding="utf-8")
    args = ["import", str(path), "--key", "copy", "--id", "copy-id"]
    exercise(Scenario("import", base, args, ["f", "g", "copy"], args, (0, 4)), tmp_path)


def test_edit_is_all_or_nothing(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """edit: the editor (a child of the child) saves a new draft; the save is an update."""
    new = write_config(tmp_path / "edited.json", scored(top_n=8, method="edited"))
    monkeypatch.setenv("VISUAL", f"cp {new}")
    edits = tmp_path / "edit-tmp"
    edits.mkdir()
    monkeypatch.setenv("TMPDIR", str(edits))  # where edit keeps its draft file
    exercise(Scenario("edit", base, ["edit", "f"], ["f", "g"], ["update", "f", "--description", "next write"]),
             tmp_path)


def test_publish_over_a_half_finished_publish(base: Path, tmp_path: Path) -> None:
    """The recovery itself is crash-safe: a publish that first completes a cut-off
    publish (snapshot linked, head not updated) is killed at every point."""
    wrapper = tmp_path / "kill_wrapper.py"
    wrapper.write_text(KILL_WRAPPER, encoding="utf-8")
    half = cut_store(base, tmp_path / "half-published", wrapper, ["publish", "f", "-m", "cut"], "link",
                     after=True)
    assert json.loads(Run(half)("show", "f", "--json").stdout)["latestVersion"] == 4  # readers complete it
    cfg = write_config(tmp_path / "u.json", scored(top_n=11))
    args = ["publish", "f", "-m", "after the cut"]
    exercise(Scenario("publish-over-cut", half, args, ["f", "g"],
                      ["update", "f", "--config", cfg]), tmp_path)


def test_update_over_an_uncommitted_publish(base: Path, tmp_path: Path) -> None:
    """An update that first drops a publish's audit line written ahead of a
    snapshot that never came (and leaves the temp file to verify --repair)."""
    wrapper = tmp_path / "kill_wrapper.py"
    wrapper.write_text(KILL_WRAPPER, encoding="utf-8")
    uncommitted = cut_store(base, tmp_path / "uncommitted", wrapper, ["publish", "f", "-m", "cut"],
                            "link", after=False)
    assert json.loads(Run(uncommitted)("show", "f", "--json").stdout)["latestVersion"] == 3
    args = ["update", "f", "--name", "F after the cut"]
    exercise(Scenario("update-over-cut", uncommitted, args, ["f", "g"],
                      ["update", "f", "--description", "next write"]), tmp_path)


# --------------------------------------------------------------------------
# an I/O error (EIO) instead of a kill, at every write point
# --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["create", "update", "publish", "rollback", "delete"])
def test_io_error_at_every_write_point(base: Path, tmp_path: Path, operation: str) -> None:
    """A failing write, fsync, rename or link (disk full, EIO) at any point: the
    command fails cleanly (or its cleanup swallows it) and the store is, for
    every reader and after verify --repair, wholly before or wholly after the
    operation. In particular an fsync failing after the commit point does not
    take the audit line of a committed change back."""
    cfg = write_config(tmp_path / "x.json", scored(top_n=6, method="io"))
    args, keys, following, allowed = {
        "create": (["create", "h", "--name", "H", "--config", cfg], ["f", "g", "h"], None, (0, 4)),
        "update": (["update", "f", "--name", "F2", "--config", cfg], ["f", "g"], None, (0,)),
        "publish": (["publish", "f", "-m", "io"], ["f", "g"], None, (0,)),
        "rollback": (["rollback", "f", "--version", "1"], ["f", "g"], None, (0,)),
        "delete": (["delete", "f", "--yes"], ["f", "g"], None, (0, 3)),
    }[operation]
    next_write = following or (args if operation in ("create", "delete") else
                               ["update", "f", "--description", "next write"])
    exercise(Scenario(operation, base, args, keys, next_write, allowed), tmp_path, fault="eio")


# --------------------------------------------------------------------------
# a full disk at every write point of a release
# --------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["publish", "rollback"])
def test_disk_full_at_every_write_point(base: Path, tmp_path: Path, operation: str) -> None:
    """ENOSPC at any write point of publish or rollback (a write takes what fits,
    then fails): before the commit point the command exits 74 with one line and
    the store is byte-for-byte unchanged and verifies, no repair needed; after it,
    the release stands (exit 0, one warning line) and verifies once repaired."""
    wrapper = tmp_path / "kill_wrapper.py"
    wrapper.write_text(KILL_WRAPPER, encoding="utf-8")
    args = ["publish", "f", "-m", "full"] if operation == "publish" else ["rollback", "f", "--version", "1"]
    log = tmp_path / "calls.log"
    probe = copy_store(base, tmp_path / "probe")
    assert run_killed(wrapper, probe, args, 0, log).returncode == 0
    calls = log.read_text(encoding="utf-8").split("\n")
    before = copy_store(base, tmp_path / "before")
    repair_and_verify(before)
    before_tree = tree_bytes(before)
    outcomes = {"unchanged (exit 74)": 0, "committed (exit 0)": 0}
    for k in range(1, len(calls) + 1):
        store = copy_store(before, tmp_path / "cut")
        result = run_killed(wrapper, store, args, k, fault="enospc")
        where = f"{operation}: ENOSPC at call {k}/{len(calls)} ({calls[k - 1]})"
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, (where, result.stderr)
        if result.returncode == 74:
            assert result.stderr.startswith("flowctl: error: no space left on device writing "), where
            assert "nothing was changed" in result.stderr, where
            assert tree_bytes(store) == before_tree, where
            outcomes["unchanged (exit 74)"] += 1
        else:
            assert result.returncode == 0, (where, result.returncode, result.stderr)
            assert result.stderr.startswith("flowctl: warning: "), (where, result.stderr)
            outcomes["committed (exit 0)"] += 1
        repair_and_verify(store)
    assert outcomes["unchanged (exit 74)"] >= 5 and outcomes["committed (exit 0)"] >= 1, outcomes
    print(f"enospc points {operation}: {len(calls)} {outcomes}")


# --------------------------------------------------------------------------
# a policy's rollback: a swap of the active version, no snapshot
# --------------------------------------------------------------------------


def test_a_policy_rollback_is_all_or_nothing(store: Path, tmp_path: Path) -> None:
    """A policy's rollback writes only the audit line and the head (docs/contract.md §7):
    killed at any point, readers and verify --repair see the old active version or the new one."""
    run = Run(store)
    source = tmp_path / "p.aster"
    for threshold in (1, 2, 3):
        source.write_text(f"Module Loan.\n\nRule isEligible given a:\n  Return a.income > {threshold}.\n",
                          encoding="utf-8")
        command = ["create", "p", "--kind", "policy", "--name", "P"] if threshold == 1 else ["update", "p"]
        assert run(*command, "--source", str(source)).exit_code == 0
        assert run("publish", "p").exit_code == 0
    repair_and_verify(store)
    args = ["rollback", "p", "--version", "1", "--reason", "v3 mis-rejects"]
    figures = exercise(Scenario("policy-rollback", store, args, ["p"], ["update", "p", "--description", "next"]),
                       tmp_path)
    assert figures["before"] >= 1 and figures["after"] >= 1

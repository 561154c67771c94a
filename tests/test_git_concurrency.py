"""Many machines, one remote: writers in separate processes on separate clones
of a real bare repository, at the same time (docs/contract.md §11). Every
operation lands exactly once, on top of the latest state, or fails cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitremote import FLOWCTL, Clone, Remote, scored_config

# Races are decided by the machine's scheduler; enough retries that no writer
# can run out of them, so the outcome (not the path to it) is deterministic.
_RETRIES = 'commit = true\npush = "origin"\nretries = 500\n'

# One writer: `count` publishes of FLOW, each reporting the version it made.
_WRITER = """
import json, subprocess, sys
flowctl, name, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
made = []
for i in range(count):
    done = subprocess.run([flowctl, "publish", "f", "-m", f"{name} #{i}", "--actor", name, "--json"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        made.append({"error": done.returncode, "stderr": done.stderr})
        break
    made.append({"notes": f"{name} #{i}", "version": json.loads(done.stdout)["latestVersion"]})
json.dump(made, open(out, "w"))
"""


def _start(clone: Clone, script: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(script), *args], cwd=clone.path, env=clone.env)


@pytest.mark.slow
def test_eight_clones_publishing_twenty_times_each_land_exactly_versions_1_to_160(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    remote.seed.ok("create", "f", "--name", "F", "--config", "-", stdin=scored_config())
    clones = [remote.clone(f"w{n}") for n in range(8)]
    script = tmp_path / "writer.py"
    script.write_text(_WRITER, encoding="utf-8")
    writers = [_start(clone, script, FLOWCTL, f"w{n}", "20", str(tmp_path / f"w{n}.json"))
               for n, clone in enumerate(clones)]
    assert [writer.wait(timeout=900) for writer in writers] == [0] * 8
    reports = {f"w{n}": json.loads((tmp_path / f"w{n}.json").read_text()) for n in range(8)}
    assert all("error" not in made for report in reports.values() for made in report), reports

    check = remote.clone("check")
    versions = {entry["version"]: entry for entry in check.versions("f")}
    assert sorted(versions) == list(range(1, 161))  # none lost, none duplicated
    for name, report in reports.items():
        for made in report:  # each reported version is in the remote, with that writer's release
            assert (versions[made["version"]]["notes"], versions[made["version"]]["publishedBy"]) == \
                (made["notes"], name)
    assert check.flowctl("verify").returncode == 0
    for clone in clones:
        assert clone.ok("sync").stdout.splitlines()[-1].startswith("ok: every tenant verified")
        assert clone.head("f")["latestVersion"] == 160


_MIXED = """
import subprocess, sys
flowctl, n = sys.argv[1], int(sys.argv[2])
codes = []
def run(*args):
    done = subprocess.run([flowctl, *args, "--actor", f"w{n}"], capture_output=True, text=True)
    codes.append([list(args), done.returncode, done.stderr.strip()])
    return done.returncode
run("create", f"own{n}", "--name", f"Own {n}")
for round in range(6):
    flow = f"f{(n + round) % 4}"
    run("update", flow, "--description", f"w{n} round {round}")
    run("publish", flow, "-m", f"w{n} round {round}")
    run("rollback", flow, "--notes", f"w{n} undo {round}")
import json
json.dump(codes, open(sys.argv[3], "w"))
"""


@pytest.mark.slow
def test_mixed_writes_on_four_flows_from_four_clones_all_land_once(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    for n in range(4):
        remote.seed.ok("create", f"f{n}", "--name", f"F{n}", "--config", "-", stdin=scored_config())
        remote.seed.ok("publish", f"f{n}")
    clones = [remote.clone(f"w{n}") for n in range(4)]
    script = tmp_path / "mixed.py"
    script.write_text(_MIXED, encoding="utf-8")
    writers = [_start(clone, script, FLOWCTL, str(n), str(tmp_path / f"w{n}.json")) for n, clone in enumerate(clones)]
    assert [writer.wait(timeout=900) for writer in writers] == [0] * 4
    runs = [entry for n in range(4) for entry in json.loads((tmp_path / f"w{n}.json").read_text())]
    # Every write succeeded or failed with a documented conflict (a rollback whose target already
    # has the active config), never anything else.
    assert {code for _, code, _ in runs} <= {0, 4}, [r for r in runs if r[1] not in (0, 4)]
    check = remote.clone("check")
    assert check.flowctl("verify").returncode == 0
    creates = [entry for entry in runs if entry[0][0] == "create"]
    assert [code for _, code, _ in creates] == [0] * 4, creates
    for n in range(4):
        assert check.head(f"own{n}")["createdBy"] == f"w{n}"
        releases = [args for args, code, _ in runs if code == 0 and args[0] in ("publish", "rollback")
                    and args[1] == f"f{n}"]
        assert check.head(f"f{n}")["latestVersion"] == 1 + len(releases)
        history = json.loads(check.ok("history", f"f{n}", "--limit", "1000", "--json").stdout)
        updates = [args for args, code, _ in runs if code == 0 and args[:2] == ["update", f"f{n}"]]
        assert len([e for e in history if e["action"] == "update"]) == len(updates)


def test_a_writer_killed_between_commit_and_push_is_completed_exactly_once_by_the_next(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    remote.seed.ok("create", "f", "--name", "F", "--config", "-", stdin=scored_config())
    victim, other = remote.clone("victim"), remote.clone("other")
    # A pre-push hook that kills flowctl itself (the parent of the `git push` running the
    # hook), once: the commit is made, the push never happens.
    victim.hook("pre-push", 'rm -f "$0"\nkill -9 "$(cut -d" " -f4 /proc/$PPID/stat)"\nsleep 5\n')
    killed = victim.flowctl("publish", "f", "-m", "interrupted")
    assert killed.returncode == -9, killed.stderr
    assert victim.subjects("-1") == ['flowctl: publish f v1 — "interrupted" (tester)']
    assert not any("interrupted" in subject for subject in remote.subjects())
    other.ok("publish", "f", "-m", "meanwhile")  # the remote moves on: v1 there is someone else's
    done = victim.ok("publish", "f", "-m", "next")
    assert [entry["notes"] for entry in victim.versions("f")] == ["meanwhile", "interrupted", "next"]
    assert done.stdout.startswith("Published f v3 ")
    check = remote.clone("check")
    assert [entry["notes"] for entry in check.versions("f")] == ["meanwhile", "interrupted", "next"]
    assert check.flowctl("verify").returncode == 0


def test_a_commit_left_unpushed_is_pushed_by_the_next_write_when_the_remote_did_not_move(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    clone = remote.clone("a")
    clone.ok("create", "f", "--name", "F", "--no-push")  # what a killed push leaves: a flowctl commit, unpushed
    clone.ok("update", "f", "--description", "d")
    check = remote.clone("check")
    assert check.head("f")["description"] == "d"
    assert check.subjects()[:2] == ["flowctl: update f (rowVersion 2) (tester)", "flowctl: create f (tester)"]


def test_a_commit_that_reached_the_remote_unannounced_is_not_applied_twice(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    remote.seed.ok("create", "f", "--name", "F", "--config", "-", stdin=scored_config())
    clone, other = remote.clone("a"), remote.clone("b")
    clone.ok("publish", "f", "-m", "landed unheard", "--no-push")
    # Pushed by URL, so origin/main here never learns of it: a push whose answer was lost.
    clone.git("push", "-q", str(remote.bare), "HEAD:main")
    other.git("pull", "-q")
    other.ok("publish", "f", "-m", "after it")
    clone.ok("publish", "f", "-m", "mine")
    check = remote.clone("check")
    assert [entry["notes"] for entry in check.versions("f")] == ["landed unheard", "after it", "mine"]


def test_sigterm_while_re_applying_puts_the_clone_back_with_its_unpushed_operations(tmp_path: Path) -> None:
    remote = Remote(tmp_path, _RETRIES)
    remote.seed.ok("create", "f", "--name", "F", "--config", "-", stdin=scored_config())
    clone, other = remote.clone("a"), remote.clone("b")
    clone.ok("publish", "f", "-m", "local 1", "--no-push")
    clone.ok("publish", "f", "-m", "local 2", "--no-push")
    other.ok("create", "other", "--name", "O")  # the remote moves on: the next push loses the race
    before = clone.state()
    # A pre-commit hook that sends SIGTERM to flowctl (a CI job cancelled) at its second
    # commit: the first re-applied operation, after the branch moved to the remote's tip.
    counter = tmp_path / "commits"
    hook = clone.hook("pre-commit", f'echo x >> {counter}\n[ "$(wc -l < {counter})" -eq 2 ] && '
                                    'kill -TERM "$(cut -d" " -f4 /proc/$PPID/stat)" && sleep 5\nexit 0\n')
    done = clone.flowctl("update", "f", "--description", "pushing")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert clone.state() == before  # both local publishes still on the branch, nothing staged
    hook.unlink()
    clone.ok("update", "f", "--description", "pushing")
    assert [entry["notes"] for entry in remote.clone("check").versions("f")] == ["local 1", "local 2"]

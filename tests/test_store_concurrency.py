"""Concurrency through the real CLI (docs/contract.md §7): the installed `flowctl` runs as
separate processes, as users and CI jobs run it.

- 8 processes × 50 publishes of one flow give versions exactly 1..400;
- publishers and rollbacks mixed give versions 1..N, N = the writes that
  reported success, and one audit line per change;
- two `create` of the same key (or id) racing: exactly one wins, the other exits 4;
- a held lock gives exit 7 within --lock-timeout with "busy" in the message;
- a SIGKILLed lock holder never blocks the next writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flowctl import jsonio
from flowctl.flows import Flows
from flowctl.store import Store

from conftest import PublishVersions, Run, flowctl_exe, scored, tree_bytes, write_config

WORKERS = 8
PUBLISHES_EACH = 50


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def cli(store: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """One real `flowctl` process against `store`."""
    return subprocess.run([flowctl_exe(), "--store", str(store), *args], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def audit_lines(store: Path, key: str) -> list[dict[str, Any]]:
    raw = (store / "flows" / "default" / key / "audit.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.splitlines()]


def snapshots(store: Path, key: str) -> dict[int, dict[str, Any]]:
    directory = store / "flows" / "default" / key / "versions"
    return {int(p.stem): json.loads(p.read_bytes()) for p in directory.glob("*.json")}


def assert_verified(store: Path) -> None:
    result = Run(store)("verify", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True, "problems": []}


def assert_consistent_history(store: Path, key: str, releases: int) -> dict[int, dict[str, Any]]:
    """Versions exactly 1..releases, every snapshot verifies, one audit line per
    change (rowVersion 1..head.rowVersion, no gap), one release line per version."""
    run = Run(store)
    head = run.json("show", key)
    listed = run.json("versions", key)["versions"]
    assert [entry["version"] for entry in listed] == list(range(1, releases + 1))
    assert head["latestVersion"] == head["activeVersion"] == releases
    found = snapshots(store, key)
    assert sorted(found) == list(range(1, releases + 1))
    for number, snapshot in found.items():
        assert snapshot["version"] == number
        assert jsonio.config_sha256(snapshot["configSnapshot"]) == snapshot["configSha256"]
    lines = audit_lines(store, key)
    assert [line["rowVersion"] for line in lines] == list(range(1, head["rowVersion"] + 1))
    released = [line["version"] for line in lines if line["action"] in ("publish", "rollback")]
    assert released == list(range(1, releases + 1))
    assert_verified(store)
    return found


class Reader(threading.Thread):
    """Reads the flow in a loop while writers run: every read is one consistent state."""

    def __init__(self, store: Path, key: str) -> None:
        super().__init__(daemon=True)
        self.flows = Flows(Store.open(store), "default", "reader")
        self.key = key
        self.stop = threading.Event()
        self.reads = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        seen = 0
        try:
            while not self.stop.is_set():
                head, entries = self.flows.versions(self.key)
                assert [entry["version"] for entry in entries] == list(range(1, head["latestVersion"] + 1))
                assert head["latestVersion"] >= seen, "a reader saw history go backwards"
                assert head["activeVersion"] in (None, *range(1, head["latestVersion"] + 1))
                seen = head["latestVersion"]
                self.reads += 1
                time.sleep(0.01)
        except BaseException as exc:
            self.error = exc


# --------------------------------------------------------------------------
# publishes under contention
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_400_publishes_from_8_processes(run: Run, store: Path, tmp_path: Path) -> None:
    """8 processes × 50 publishes of one flow → versions exactly 1..400, no gap, no
    duplicate, each process told a distinct version, 400 publish lines in the audit."""
    assert run("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored())).exit_code == 0
    reader = Reader(store, "f")
    reader.start()

    def worker(w: int) -> list[tuple[int, str, str]]:
        results = []
        for j in range(PUBLISHES_EACH):
            done = cli(store, "publish", "f", "-m", f"w{w}-{j}", "--lock-timeout", "60", "--quiet")
            results.append((done.returncode, done.stdout.strip(), done.stderr))
        return results

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = [item for batch in pool.map(worker, range(WORKERS)) for item in batch]
    reader.stop.set()
    reader.join(30)

    total = WORKERS * PUBLISHES_EACH
    assert [rc for rc, _, _ in outcomes] == [0] * total, [o for o in outcomes if o[0] != 0][:3]
    assert sorted(int(out) for _, out, _ in outcomes) == list(range(1, total + 1))
    found = assert_consistent_history(store, "f", total)
    assert sorted(s["notes"] for s in found.values()) == sorted(
        f"w{w}-{j}" for w in range(WORKERS) for j in range(PUBLISHES_EACH))
    assert all(s["source"] == {"action": "publish"} for s in found.values())
    assert Counter(line["action"] for line in audit_lines(store, "f")) == {"create": 1, "publish": total}
    assert reader.error is None, reader.error
    assert reader.reads > 0
    print(f"publishes under contention: {total} from {WORKERS} processes; concurrent reads: {reader.reads}")


@pytest.mark.slow
def test_publishers_and_rollbacks_mixed(run: Run, store: Path, tmp_path: Path) -> None:
    """4 processes updating+publishing and 4 rolling back, interleaved: versions are
    exactly 1..N for the N releases that reported success, every rollback was made
    from the version just before it and holds its target's config."""
    assert run("create", "f", "--name", "F").exit_code == 0
    for i in (1, 2, 3):
        assert run("update", "f", "--config", write_config(tmp_path / f"c{i}.json", scored(top_n=i))).exit_code == 0
        assert run("publish", "f", "-m", f"seed {i}").exit_code == 0
    rounds = 10

    def publisher(w: int) -> list[tuple[str, int, str]]:
        results = []
        for j in range(rounds):
            cfg = write_config(tmp_path / f"p{w}-{j}.json", scored(top_n=100 + 10 * w + j))
            updated = cli(store, "update", "f", "--config", cfg, "--lock-timeout", "60")
            results.append(("update", updated.returncode, updated.stderr))
            published = cli(store, "publish", "f", "-m", f"p{w}-{j}", "--lock-timeout", "60")
            results.append((f"p{w}-{j}", published.returncode, published.stderr))
        return results

    def roller(w: int) -> list[tuple[str, int, str]]:
        results = []
        for j in range(rounds):
            target = 1 + (w + j) % 3
            done = cli(store, "rollback", "f", "--version", str(target), "-m", f"r{w}-{j}", "--lock-timeout", "60")
            results.append((f"Rollback to v{target}: r{w}-{j}", done.returncode, done.stderr))
        return results

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(publisher, w) for w in range(4)] + [pool.submit(roller, w) for w in range(4)]
        outcomes = [item for future in futures for item in future.result()]

    for label, rc, err in outcomes:
        if label.startswith("Rollback"):
            # A rollback may find its target already active, or the active config
            # equal to it: no no-op version is written (exit 4). Nothing else.
            assert rc in (0, 4), (label, rc, err)
            assert rc == 0 or "already" in err, err
        else:
            assert rc == 0, (label, rc, err)
    released = [label for label, rc, _ in outcomes if rc == 0 and label != "update"]
    total = 3 + len(released)
    found = assert_consistent_history(store, "f", total)
    assert sorted(s["notes"] for v, s in found.items() if v > 3) == sorted(released)
    rollbacks = 0
    for number, snapshot in found.items():
        if snapshot["source"]["action"] == "rollback":
            rollbacks += 1
            restored = snapshot["source"]["restoredVersion"]
            assert snapshot["source"]["previousVersion"] == number - 1  # serialised: made from the then-active
            assert snapshot["configSnapshot"] == found[restored]["configSnapshot"]
            assert found[number - 1]["configSha256"] != snapshot["configSha256"]  # never a no-op version
    assert rollbacks >= 1
    print(f"mixed: {len(released)} releases ({rollbacks} rollbacks) under contention, "
          f"{sum(1 for o in outcomes if o[1] == 4)} rollbacks refused as no-ops")


@pytest.mark.slow
def test_verify_alongside_writers_reports_nothing(run: Run, store: Path, tmp_path: Path) -> None:
    """`verify` run while other processes publish, create and delete: a write in
    flight is never reported as damage (verify re-checks a suspect flow under its
    lock), so every run exits 0."""
    assert run("create", "f", "--name", "F", "--config", write_config(tmp_path / "c.json", scored())).exit_code == 0
    done = threading.Event()

    def writer(w: int) -> list[int]:
        codes = []
        for j in range(8):
            codes.append(cli(store, "publish", "f", "--lock-timeout", "60").returncode)
            codes.append(cli(store, "create", f"k{w}-{j}", "--name", "k", "--lock-timeout", "60").returncode)
            codes.append(cli(store, "delete", f"k{w}-{j}", "--yes", "--lock-timeout", "60").returncode)
        return codes

    def verifier() -> list[tuple[int, str]]:
        results = []
        while not done.is_set():
            result = cli(store, "verify", "--lock-timeout", "60")
            results.append((result.returncode, result.stdout + result.stderr))
        return results

    with ThreadPoolExecutor(4) as pool:
        checks = [pool.submit(verifier) for _ in range(2)]
        writes = [pool.submit(writer, w) for w in range(2)]
        codes = [code for future in writes for code in future.result()]
        done.set()
        verified = [item for future in checks for item in future.result()]
    assert codes == [0] * len(codes)
    assert verified and [rc for rc, _ in verified] == [0] * len(verified), [out for rc, out in verified if rc][:3]
    assert_consistent_history(store, "f", 16)
    print(f"verify runs alongside {len(codes)} writes: {len(verified)}, all clean")


# --------------------------------------------------------------------------
# create races
# --------------------------------------------------------------------------


def _race(store: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start the commands as processes at (nearly) the same moment."""
    procs = [subprocess.Popen([flowctl_exe(), "--store", str(store), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in commands]
    results = []
    for proc, args in zip(procs, commands, strict=False):
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_creates_of_one_key_race(store: Path, round_: int) -> None:
    """Exactly one of two racing `create KEY` wins; the other exits 4, and the
    store holds one flow whose head is the winner's."""
    results = _race(store, [["create", "race", "--name", f"{who}", "--id", f"id-{who}"] for who in ("a", "b")])
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 4], [(r.returncode, r.stderr) for r in results]
    winner = next(r for r in results if r.returncode == 0).args[3]  # its --name: a or b
    loser = next(r for r in results if r.returncode == 4)
    assert "already" in loser.stderr and "Traceback" not in loser.stderr
    head = Run(store).json("show", "race")
    assert head["name"] == winner and head["id"] == f"id-{winner}"
    assert [p.name for p in (store / "flows" / "default").iterdir() if not p.name.endswith(".lock")] == ["race"]
    assert_verified(store)


def test_two_creates_of_one_id_race(store: Path) -> None:
    """Two flows racing for one id: one wins, the other exits 4 and leaves nothing."""
    results = _race(store, [["create", key, "--name", key, "--id", "shared"] for key in ("k1", "k2")])
    assert sorted(r.returncode for r in results) == [0, 4], [(r.returncode, r.stderr) for r in results]
    assert len(Run(store).json("list")["data"]) == 1
    assert_verified(store)


# --------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------


def _hold(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("args", [
    ["publish", "f"],
    ["update", "f", "--name", "other"],
    ["rollback", "f", "--version", "1"],
    ["delete", "f", "--yes"],
])
def test_held_lock_gives_busy_exit_7(run: Run, store: Path, publish_versions: PublishVersions, args: list[str]) -> None:
    """While another process holds the flow's lock, a write waits --lock-timeout,
    then exits 7 saying the flow is busy and to retry; nothing is written, and
    readers are not blocked (they take no lock)."""
    publish_versions("f", 2)
    before = tree_bytes(store)
    fd = _hold(store / "flows" / "default" / "f" / "flow.lock")
    try:
        started = time.monotonic()
        result = cli(store, *args, "--lock-timeout", "0.5")
        elapsed = time.monotonic() - started
        assert result.returncode == 7, result.stderr
        assert "busy" in result.stderr and "retry" in result.stderr
        assert result.stderr.startswith("flowctl: error: ") and result.stderr.count("\n") == 1
        assert 0.5 <= elapsed < 10
        as_json = cli(store, *args, "--lock-timeout", "0", "--json")
        assert as_json.returncode == 7 and as_json.stdout == ""
        assert json.loads(as_json.stderr)["error"]["code"] == "busy"
        assert cli(store, "show", "f", "--json").returncode == 0
        assert cli(store, "versions", "f", "--json").returncode == 0
    finally:
        os.close(fd)
    assert tree_bytes(store) == before
    assert cli(store, *args, "--lock-timeout", "5").returncode == 0  # and then it goes through


def test_held_tenant_lock_makes_create_busy(store: Path) -> None:
    """create serialises on the tenant's lock (key/id uniqueness): busy → exit 7."""
    (store / "flows" / "default").mkdir(parents=True, exist_ok=True)
    fd = _hold(store / "flows" / "default" / ".tenant.lock")
    try:
        result = cli(store, "create", "x", "--name", "x", "--lock-timeout", "0.3")
    finally:
        os.close(fd)
    assert result.returncode == 7 and "busy" in result.stderr
    assert not (store / "flows" / "default" / "x").exists()


def test_sigkilled_lock_holder_never_blocks_the_next_writer(run: Run, store: Path,
                                                            publish_versions: PublishVersions) -> None:
    """A process killed while holding the lock leaves the lock file behind but no
    lock: the kernel drops it, and the next writer goes through at once."""
    publish_versions("f", 1)
    lock = store / "flows" / "default" / "f" / "flow.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert cli(store, "publish", "f", "--lock-timeout", "0.2").returncode == 7
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    assert lock.exists()
    started = time.monotonic()
    result = cli(store, "publish", "f", "-m", "after the kill", "--lock-timeout", "5")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    assert run.json("show", "f")["latestVersion"] == 2
    assert_verified(store)


def test_waiting_writer_does_not_write_into_a_deleted_flow(run: Run, store: Path,
                                                           publish_versions: PublishVersions) -> None:
    """A writer waiting on the lock of a flow that is deleted meanwhile finds it
    gone (exit 3) instead of writing into the moved-away directory."""
    publish_versions("f", 1)
    from flowctl import journal

    files = Store.open(store).flow_files("default", "f")
    fd = _hold(files.lock)
    try:
        waiting = subprocess.Popen([flowctl_exe(), "--store", str(store), "publish", "f", "--lock-timeout", "30"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # let it open the lock file and wait on it
        journal.delete_flow(files)  # what `delete` does under the lock
    finally:
        os.close(fd)
    _out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 3, err
    assert "Traceback" not in err
    assert sorted(p.name for p in (store / "flows" / "default").iterdir()) == [".tenant.lock"]


def test_lock_timeout_that_is_not_a_number_of_seconds(run: Run, store: Path, publish_versions: PublishVersions) -> None:
    """--lock-timeout nan would never time out on a held lock: it is bad input (exit 2)."""
    publish_versions("f", 1)
    fd = _hold(store / "flows" / "default" / "f" / "flow.lock")
    try:
        for value in ("nan", "-1", "soon"):
            result = cli(store, "publish", "f", "--lock-timeout", value, timeout=30)
            assert result.returncode == 2, (value, result.stderr)
            assert result.stderr.startswith("flowctl: error: ") and "--lock-timeout" in result.stderr
    finally:
        os.close(fd)

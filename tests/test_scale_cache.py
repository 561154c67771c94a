"""The head cache (src/flowctl/head_cache.py) never shows a stale or missing flow.

Flows change behind flowctl's back (git pull, checkout, a copied directory), so
every test here changes files with plain file operations between two real CLI
reads and checks that `list`, `create` and lookups by id see the change. The
racy window is set to 0 where a test needs the cache to be trusted (files in a
test are always younger than the real 3 s window); the racy tests keep it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from array import array
from pathlib import Path
from typing import Any

import pytest

from flowctl import head_cache
from flowctl import store as store_module
from flowctl.store import Store

from conftest import Run, flow_dir

CACHE = Path("flows") / "default" / ".cache" / "heads.lock"
OWN_FORMAT = b"flowctl-head-cache %d " % head_cache.FORMAT


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """No racy window: an entry is trusted as soon as its stat is unchanged."""
    monkeypatch.setattr(head_cache, "RACY_NS", 0)


def make_flows(run: Run, count: int) -> None:
    for i in range(count):
        assert run("create", f"f{i}", "--name", f"F{i}", "--id", f"id-{i}").exit_code == 0


def keys(run: Run, *args: str) -> list[str]:
    return [head["key"] for head in run.json("list", "--limit", "1000", *args)["data"]]


def age_cache(store: Path) -> None:
    """Make the cache file's mtime later than every file it describes (as it is
    on a real machine a few ticks after the scan), so its entries are trusted."""
    path = store / CACHE
    later = path.stat().st_mtime_ns + 10**10
    os.utime(path, ns=(later, later))


def scan(store: Path) -> head_cache.Scan:
    return head_cache.scan(Store.open(store), "default")


def rewrite_head(store: Path, flow: str, **fields: Any) -> None:
    """Rewrite flow.json in place, as an editor or `cp` does (same inode)."""
    path = flow_dir(store, flow) / "flow.json"
    head = json.loads(path.read_text(encoding="utf-8"))
    head.update(fields)
    with open(path, "r+b") as fh:
        data = (json.dumps(head, indent=2, ensure_ascii=False) + "\n").encode()
        fh.write(data)
        fh.truncate(len(data))


@pytest.mark.usefixtures("trusted")
class TestBehindFlowctlsBack:
    def test_warm_cache_is_used(self, run: Run, store: Path) -> None:
        """A second scan with nothing changed reads no head at all."""
        make_flows(run, 3)
        assert keys(run) == ["f0", "f1", "f2"]
        age_cache(store)
        assert scan(store).parsed == 0

    def test_flow_copied_in(self, run: Run, store: Path) -> None:
        """A flow directory copied in (a git pull) is listed, and its id is taken."""
        make_flows(run, 2)
        keys(run)
        age_cache(store)
        shutil.copytree(flow_dir(store, "f0"), flow_dir(store, "g"))
        rewrite_head(store, "g", key="g", id="id-g")
        assert keys(run) == ["f0", "f1", "g"]
        assert run.json("show", "id-g")["key"] == "g"
        result = run("create", "h", "--name", "H", "--id", "id-g")
        assert result.exit_code == 4 and "already used" in result.stderr

    def test_create_sees_a_copied_in_flows_id_without_stating_every_head(self, run: Run, store: Path) -> None:
        """create without --id lists the tenant (not a stat per head): a flow copied
        in is read, so its id is taken as a key too; a removed flow's id is free."""
        make_flows(run, 2)
        keys(run)
        age_cache(store)
        shutil.copytree(flow_dir(store, "f0"), flow_dir(store, "g"))
        rewrite_head(store, "g", key="g", id="id-g")
        result = run("create", "id-g", "--name", "clash")
        assert result.exit_code == 4 and "already used" in result.stderr
        shutil.rmtree(flow_dir(store, "f1"))
        assert run("create", "id-1", "--name", "free again").exit_code == 0

    def test_create_with_an_id_checks_heads_rewritten_in_place(self, run: Run, store: Path) -> None:
        """--id confirms every head by its stat first: an id changed in place (damage
        verify reports, but there) is still refused."""
        make_flows(run, 2)
        keys(run)
        age_cache(store)
        rewrite_head(store, "f1", id="id-edited")
        result = run("create", "h", "--name", "H", "--id", "id-edited")
        assert result.exit_code == 4 and "already used" in result.stderr

    def test_flow_removed(self, run: Run, store: Path) -> None:
        """A flow directory removed behind flowctl's back is no longer listed."""
        make_flows(run, 3)
        keys(run)
        age_cache(store)
        shutil.rmtree(flow_dir(store, "f1"))
        assert keys(run) == ["f0", "f2"]
        assert run.json("list")["pagination"]["total"] == 2

    def test_head_rewritten_in_place(self, run: Run, store: Path) -> None:
        """flow.json rewritten in place (another size) moves the flow in the order."""
        make_flows(run, 3)
        keys(run)
        age_cache(store)
        rewrite_head(store, "f2", status="archived", name="renamed flow")
        assert keys(run, "--status", "archived") == ["f2"]
        assert keys(run) == ["f0", "f1", "f2"]
        assert keys(run, "--status", "draft") == ["f0", "f1"]

    def test_same_size_rewrite_with_the_same_mtime(self, run: Run, store: Path) -> None:
        """Same size, mtime forced back with os.utime: ctime still tells."""
        make_flows(run, 2)
        keys(run)
        age_cache(store)
        path = flow_dir(store, "f1") / "flow.json"
        before = path.stat()
        rewrite_head(store, "f1", status="paused")  # "draft" -> "paused": one byte longer
        rewrite_head(store, "f1", status="pause")  # not a status: flow.json is now damaged
        text = path.read_text(encoding="utf-8").replace('"pause"', '"draft"').replace('"F1"', '"G1"')
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
        names = {head["key"]: head["name"] for head in run.json("list")["data"]}
        assert names == {"f0": "F0", "f1": "G1"}

    def test_git_checkout_rewrites_a_head(self, run: Run, store: Path) -> None:
        """`git checkout` of another version of flow.json (a new file) is seen."""
        if shutil.which("git") is None:
            pytest.skip("git not installed")
        make_flows(run, 2)
        git = ["git", "-C", str(store), "-c", "user.name=t", "-c", "user.email=t@e"]
        subprocess.run(["git", "init", "-q", str(store)], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "one"], check=True)
        assert run("update", "f0", "--status", "archived").exit_code == 0
        assert keys(run, "--status", "archived") == ["f0"]
        age_cache(store)
        subprocess.run([*git, "checkout", "-q", "--", "flows/default/f0/flow.json"], check=True)
        assert keys(run, "--status", "archived") == []
        ignored = subprocess.run([*git, "check-ignore", "-q", str(CACHE)])
        assert ignored.returncode == 0, "the cache is git-ignored"


class TestRacyAndClocks:
    def test_racy_rewrite_in_the_same_tick(self, run: Run, store: Path) -> None:
        """With the real racy window, a head changed just now is re-read even when
        its size and all its times are unchanged (git's racy-clean rule)."""
        make_flows(run, 1)
        keys(run)
        path = flow_dir(store, "f0") / "flow.json"
        before = path.stat()
        fd = os.open(path, os.O_WRONLY)  # same inode, same size, times put back
        os.pwrite(fd, path.read_bytes().replace(b'"F0"', b'"G0"'), 0)
        os.close(fd)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert run.json("list")["data"][0]["name"] == "G0"

    @pytest.mark.usefixtures("trusted")
    @pytest.mark.parametrize("shift_s", [-10**6, 10**6])
    def test_cache_with_another_clock(self, run: Run, store: Path, shift_s: int) -> None:
        """A cache file whose mtime is far in the past (an older clock: files look
        newer than the cache) or in the future is never trusted past the stat."""
        make_flows(run, 2)
        keys(run)
        path = store / CACHE
        when = path.stat().st_mtime_ns + shift_s * 10**9
        os.utime(path, ns=(when, when))
        rewrite_head(store, "f0", name="changed")
        assert {head["name"] for head in run.json("list")["data"]} == {"changed", "F1"}

    @pytest.mark.usefixtures("trusted")
    def test_heads_with_future_mtimes(self, run: Run, store: Path) -> None:
        """Heads stamped by a clock ahead of ours stay re-read, never trusted."""
        make_flows(run, 2)
        future = (os.stat(flow_dir(store, "f0") / "flow.json").st_mtime_ns + 10**15)
        for key in ("f0", "f1"):
            os.utime(flow_dir(store, key) / "flow.json", ns=(future, future))
        keys(run)
        rewrite_head(store, "f1", name="changed")
        os.utime(flow_dir(store, "f1") / "flow.json", ns=(future, future))
        assert {head["name"] for head in run.json("list")["data"]} == {"F0", "changed"}


class TestDamagedCache:
    @pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty", "other-version"])
    def test_treated_as_absent_and_repaired(self, run: Run, store: Path, damage: str) -> None:
        """A corrupt, truncated or foreign cache is ignored (the flows are read),
        verify names a damaged one and --repair rebuilds it."""
        make_flows(run, 3)
        expected = run.json("list")
        path = store / CACHE
        raw = path.read_bytes()
        path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"\x00\xff" * 50, "empty": b"",
                          "flip": raw[:-3] + bytes([raw[-3] ^ 0xFF]) + raw[-2:],
                          "other-version": raw.replace(OWN_FORMAT, b"flowctl-head-cache 999 ", 1)}
                         [damage])
        assert run.json("list") == expected
        path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"\x00\xff" * 50, "empty": b"",
                          "flip": raw[:-3] + bytes([raw[-3] ^ 0xFF]) + raw[-2:],
                          "other-version": raw.replace(OWN_FORMAT, b"flowctl-head-cache 999 ", 1)}
                         [damage])
        checked = run("verify")
        if damage == "other-version":
            assert checked.exit_code == 0, checked.output  # another flowctl's: rebuilt, not damage
            return
        assert checked.exit_code == 8 and "head cache" in checked.stdout and ".cache/heads.lock" in checked.stdout
        assert "verify --repair" in checked.stdout
        assert run("verify", "--repair").exit_code == 0
        assert run("verify").exit_code == 0
        assert head_cache.load(path, store / "flows" / "default").table.keys == ["f0", "f1", "f2"]

    def test_verify_reports_a_stale_entry(self, run: Run, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """An entry its flow.json's stat vouches for but that disagrees with the
        head (a cache lying) is a finding --repair fixes."""
        monkeypatch.setattr(head_cache, "RACY_NS", 0)
        make_flows(run, 2)
        root = Store.open(store)
        head_cache.scan(root, "default")
        age_cache(store)
        table = head_cache.load(store / CACHE, store / "flows" / "default").table
        table.statuses[table.keys.index("f0")] = "archived"
        assert head_cache.save(root, "default", None, table)
        age_cache(store)
        assert keys(run, "--status", "archived") == ["f0"]  # what a lying cache would show
        checked = run("verify")
        assert checked.exit_code == 8 and "stale" in checked.stdout
        assert run("verify", "--repair").exit_code == 0
        assert keys(run, "--status", "archived") == []

    def test_verify_reports_a_cache_out_of_list_order(self, run: Run, store: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """Readers page straight from the cache's order, so a cache whose rows are
        not in list order (a lying cache) is a finding --repair fixes."""
        monkeypatch.setattr(head_cache, "RACY_NS", 0)
        make_flows(run, 3)
        root = Store.open(store)
        head_cache.scan(root, "default")
        age_cache(store)
        loaded = head_cache.load(store / CACHE, store / "flows" / "default")
        table = loaded.table
        backwards = head_cache.Table(table.keys[::-1], table.ids[::-1], table.statuses[::-1], table.kinds[::-1],
                                     table.stamps[::-1], table.sigs[::-1], table.others, table.newest)
        assert head_cache.save(root, "default", loaded.tenant, backwards)
        age_cache(store)
        assert keys(run) == ["f2", "f1", "f0"]  # what a lying cache would show
        checked = run("verify")
        assert checked.exit_code == 8 and "not in list order" in checked.stdout
        assert run("verify", "--repair").exit_code == 0
        assert keys(run) == ["f0", "f1", "f2"]

    def test_a_stat_past_int64_is_still_a_signature(self) -> None:
        """An inode number past 2**63 (some network file systems) still gives an
        int64 signature, never one of the markers."""
        huge = os.stat_result((0o100644, 2**64 - 1, 1, 1, 0, 0, 10, 0, 0, 0),
                              {"st_atime_ns": 0, "st_mtime_ns": 5, "st_ctime_ns": 5})
        signature = head_cache._signature(huge)
        assert -(2**63) <= signature < 2**63 and signature != head_cache.SMUDGED
        assert array("q", [signature])[0] == signature

    @pytest.mark.parametrize("field", range(5))
    def test_a_change_of_any_one_stat_field_changes_the_signature(self, field: int) -> None:
        """What an in-place rewrite changes (size, mtime, ctime; inode and mode for a
        replaced file) changes the signature, even by one, even at extreme values."""
        def signature(fields: list[int]) -> int:
            size, mtime, ctime, ino, mode = fields
            return head_cache._signature(os.stat_result(
                (mode, ino, 1, 1, 0, 0, size, 0, 0, 0), {"st_atime_ns": 0, "st_mtime_ns": mtime, "st_ctime_ns": ctime}))

        for base in ([512, 1_764_000_000_123_456_789, 1_764_000_000_123_456_789, 4242, 0o100644],
                     [0, 0, 0, 0, 0], [2**40, 2**62, 2**62, 2**64 - 1, 0o120777]):
            for delta in (1, 2, 1000, 2**61 - 2):
                changed = list(base)
                changed[field] += delta
                assert signature(changed) != signature(base), (field, base, delta)

    def test_cache_write_failure_never_fails_a_read(self, run: Run, store: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """A read-only store or a full disk: list works, nothing is cached."""
        make_flows(run, 2)

        def refuse(path: Path, data: bytes, *, durable: bool = True) -> None:
            raise OSError(30, "Read-only file system")

        monkeypatch.setattr(store_module, "write_atomic", refuse)
        assert keys(run) == ["f0", "f1"]
        assert not (store / CACHE).exists()

    def test_cache_writes_are_not_fsynced_history_writes_are(self, run: Run, store: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """A cache checks its own bytes, so writing one costs no fsync (a crash
        leaves a file the CRC refuses); the store's own records are fsynced."""
        make_flows(run, 2)
        assert not (store / CACHE).exists()  # creates leave it to the next read
        synced: list[int] = []
        real_fsync = os.fsync

        def counted_fsync(fd: int) -> None:
            synced.append(fd)
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", counted_fsync)
        assert keys(run) == ["f0", "f1"]
        assert (store / CACHE).exists() and synced == []
        assert run("create", "f2", "--name", "F2").exit_code == 0
        assert synced

    def test_cache_place_taken_by_a_file(self, run: Run, store: Path) -> None:
        """`.cache` being a file (cannot be written): reads still work."""
        make_flows(run, 1)
        shutil.rmtree(store / "flows" / "default" / ".cache", ignore_errors=True)
        (store / "flows" / "default" / ".cache").write_text("not a directory", encoding="utf-8")
        assert keys(run) == ["f0"]


class TestListFromTheCache:
    def test_cold_and_warm_pages_are_equal(self, run: Run, store: Path, tmp_path: Path) -> None:
        """Order, keyset cursor and total are the same without a cache and with one."""
        make_flows(run, 7)
        for key, status in (("f1", "paused"), ("f3", "archived"), ("f5", "paused")):
            assert run("update", key, "--status", status).exit_code == 0

        def pages(*args: str, cold: bool) -> list[Any]:
            seen, cursor = [], None
            while True:
                if cold:
                    (store / CACHE).unlink(missing_ok=True)
                page = run.json("list", "--limit", "2", *args, *(["--cursor", cursor] if cursor else []))
                seen.append(page)
                cursor = page["pagination"]["nextCursor"]
                if cursor is None:
                    return seen

        for args in ((), ("--status", "paused"), ("--kind", "decision-flow")):
            cold = pages(*args, cold=True)
            assert pages(*args, cold=False) == cold
            assert cold[0]["pagination"]["total"] == {(): 7, ("--status", "paused"): 2}.get(args, 7)


class TestUpdatedInPlace:
    """The cache is updated by its changes, not rebuilt: rows re-read or added are
    put in their places, removed ones dropped. Every step here is checked
    against a cold read of the same files (no cache)."""

    @pytest.mark.usefixtures("trusted")
    def test_mixed_changes_match_a_cold_read(self, run: Run, store: Path, tmp_path: Path) -> None:
        import random

        make_flows(run, 12)
        chooser = random.Random(13)  # pinned: the same steps every run
        statuses = ["draft", "paused", "archived"]
        made = 12
        for step in range(25):
            present = sorted(p.name for p in (store / "flows" / "default").iterdir() if p.name.startswith("f"))
            action = chooser.choice(["add", "remove", "rewrite", "rewrite", "nothing"])
            if action == "add" or len(present) < 3:
                source = chooser.choice(present)
                key = f"f{made}"
                made += 1
                shutil.copytree(flow_dir(store, source), flow_dir(store, key))
                month = chooser.randint(1, 9)
                rewrite_head(store, key, key=key, id=f"id-{key}", updatedAt=f"2026-0{month}-01T00:00:00.000Z")
            elif action == "remove":
                shutil.rmtree(flow_dir(store, chooser.choice(present)))
            elif action == "rewrite":
                for key in chooser.sample(present, k=min(len(present), chooser.randint(1, 3))):
                    rewrite_head(store, key, status=chooser.choice(statuses),
                                 updatedAt=f"2026-{chooser.randint(10, 12)}-0{chooser.randint(1, 9)}T00:00:00.000Z")
            warm = run.json("list", "--limit", "1000")
            age_cache(store)
            shutil.copy2(store / CACHE, tmp_path / "cache")
            (store / CACHE).unlink()
            cold = run.json("list", "--limit", "1000")
            assert warm == cold, f"step {step} ({action})"
            shutil.copy2(tmp_path / "cache", store / CACHE)  # keep the warm one for the next step

    @pytest.mark.usefixtures("trusted")
    def test_one_new_flow_rereads_one_head(self, run: Run, store: Path) -> None:
        """A flow added to a warm tenant is the only head read: the others come
        from the cache, merged in list order."""
        make_flows(run, 5)
        keys(run)
        age_cache(store)
        assert scan(store).parsed == 0
        assert run("create", "g", "--name", "G").exit_code == 0
        found = scan(store)
        assert found.parsed == 1
        assert found.table.keys == ["f0", "f1", "f2", "f3", "f4", "g"]  # one clock in tests: by key
        assert found.table == head_cache.scan(Store.open(store), "default").table


class TestVersionsLimit:
    def test_newest_n_oldest_first(self, run: Run, publish_versions: Any) -> None:
        """--limit N: the newest N entries, oldest first, the same items as the full list."""
        publish_versions("f", 6)
        full = run.json("versions", "f")["versions"]
        tail = run.json("versions", "f", "--limit", "3")
        assert tail["versions"] == full[-3:]
        assert [e["version"] for e in tail["versions"]] == [4, 5, 6]
        assert run.json("versions", "f", "--limit", "100")["versions"] == full
        table = run("versions", "f", "--limit", "2")
        assert table.exit_code == 0 and "v5" in table.stdout and "v6 *" in table.stdout and "v4" not in table.stdout

    def test_bad_limit(self, run: Run, publish_versions: Any) -> None:
        publish_versions("f", 1)
        assert run("versions", "f", "--limit", "0").exit_code == 2

    def test_damaged_tail_falls_back_to_the_snapshots(self, run: Run, store: Path, publish_versions: Any) -> None:
        """A damaged last index line: the entries come from the snapshots."""
        publish_versions("f", 4)
        full = run.json("versions", "f")["versions"]
        index = flow_dir(store, "f") / "versions.jsonl"
        lines = index.read_bytes().splitlines(keepends=True)
        index.write_bytes(b"".join(lines[:-1]) + b'{"version": 4, "broken\n')
        assert run.json("versions", "f", "--limit", "2")["versions"] == full[-2:]

    def test_uncommitted_index_line_is_left_out(self, run: Run, store: Path, publish_versions: Any) -> None:
        """An index line past latestVersion (a write in flight) is not a version."""
        publish_versions("f", 3)
        full = run.json("versions", "f")["versions"]
        index = flow_dir(store, "f") / "versions.jsonl"
        extra = json.loads(index.read_bytes().splitlines()[-1])
        extra["version"] = 4
        with open(index, "ab") as fh:
            fh.write((json.dumps(extra, separators=(",", ":")) + "\n").encode())
        assert run.json("versions", "f", "--limit", "2")["versions"] == full[-2:]

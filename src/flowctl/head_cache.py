"""The tenant's head cache: what `list`, `create` and lookups by id need of
every flow, without parsing every `flow.json`.

Flows arrive through git (pull, merge, checkout, a colleague's branch)
without flowctl seeing them, so nothing here is trusted that the files do
not confirm. The cache is local state, like git's index: one file per tenant,
`flows/<tenant>/.cache/heads.lock` (`Store.head_cache`; the `.lock` suffix
puts it under the `/flows/**/*.lock` line every store's .gitignore already
has, so it is never committed: a committed tenant-wide file would conflict on
every pair of concurrent creates on two branches). It holds, per flow, the
few head fields `list` sorts and filters by (id, status, kind, updatedAt)
with a signature of the stat of the `flow.json` they came from (a hash of its
size, mtime, ctime, inode and mode), column by column and in `list` order; a
release touches its head's times before its commit point (journal), so a
release cut off after it shows too. A read stats each flow.json (git's index
costs `git status` the same: one stat per file is the floor of noticing an
in-place edit) and re-parses only the flows whose stat changed; a flow
directory added or removed shows in the tenant directory's own stat, and then
its listing is read again. When nothing
changed, the signatures are compared as one array of integers and the cached
order is the page's order: no per-flow Python work beyond the stat and its
hash, and loading 10,000 flows makes a few lists, not 10,000 records (a fresh
process pays for every object it allocates; the keys are one string, split).

A signature is Python's hash of the five stat fields: one int64 a flow, not
five (a fifth of the bytes to load and compare, and no per-field conversion in
the hot loop). A tuple's hash folds each field's hash in with a step that is
one to one when the others are fixed, and an int's hash is the int modulo
2**61 - 1, so a change of any one field changes the signature unless it is by
a multiple of 2**61 - 1 (73 years in nanoseconds, 2 EiB in bytes); a change of
several keeps it by a 2**-64 chance. A hash is never -1: that is SMUDGED.

Racy writes (git's "racy clean" problem): a file rewritten within the same
timestamp tick, at the same size, keeps its stat. So an entry whose files
changed less than RACY_NS before the scan, or not before the cache file's own
mtime, is never trusted: it is stored "smudged" and re-parsed until it is old
enough. ctime cannot be set from user space (os.utime sets it to now), and a
copied store has new inodes, so a forced mtime or a store copied from
another machine misses too and is re-parsed.

A cache that is corrupt, truncated, from another flowctl or Python, or made
for another directory is absent (the tenant is scanned and it is rewritten);
one that fails to be written (read-only store, full disk) costs only the next
scan. Writes are atomic (store.write_atomic), so readers never see half of
one. Stdlib only: read commands import neither pydantic nor rich.
"""

from __future__ import annotations

import bisect
import functools
import gc
import marshal
import os
import stat
import sys
import time
import zlib
from array import array
from pathlib import Path
from typing import Any, Final, NamedTuple

from . import __version__, names, reading, records
from .errors import NotFound
from .paging import Position, stamp
from .records import Head
from .store import Store, write_cache_file

FORMAT = 5
RACY_NS = 3_000_000_000  # coarser than any file system's timestamps (FAT: 2 s)
_MAGIC = b"flowctl-head-cache"
_HEADER_MAX = 512  # the first line: magic, versions, device, inode, length, CRC, newest time

# What the cache knows of one flow, from its current head: id, status, kind and
# updatedAt as a number (paging.stamp), for list's order.
Entry = tuple[str, str, str, int]
# The flow.json it came from, as a rewrite changes it: the hash of its size,
# mtime, ctime, inode and mode (a symlink or a directory put in its place shows
# in the mode).
Sig = int
SMUDGED: Final = -1  # racy or not a plain file: re-read by every scan (no hash is -1)
DirStat = tuple[int, int, int, int]  # the tenant directory's device, mtime, ctime, inode
RANK: Final = {name: number for number, name in enumerate(records.STATUSES)}


class Table(NamedTuple):
    """The tenant's flows in `list` order (status, updatedAt newest first, key),
    column by column: aligned lists (statuses and kinds interned, so marshal
    stores each once) and the signatures as one int64 array."""

    keys: list[str]
    ids: list[str]
    statuses: list[str]
    kinds: list[str]
    stamps: list[int]
    sigs: array[int]
    others: list[str]  # names in the tenant directory that are no flow: re-read by every scan
    newest: int  # the newest mtime or ctime of a flow.json it trusts (dump's header)

    def position(self, at: int) -> Position:
        """Where the `at`-th flow stands in `list` (paging.Position)."""
        return position(self.keys[at], self.entry(at))

    def entry(self, at: int) -> Entry:
        return (self.ids[at], self.statuses[at], self.kinds[at], self.stamps[at])

    def _columns(self) -> tuple[list[Any], ...]:
        return (self.keys, self.ids, self.statuses, self.kinds, self.stamps)

    def select(self, picked: list[int]) -> Table:
        """The rows at `picked` (ascending, so still in list order)."""
        sigs = array("q", [self.sigs[at] for at in picked])
        keys, ids, statuses, kinds, stamps = ([column[at] for at in picked] for column in self._columns())
        return Table(keys, ids, statuses, kinds, stamps, sigs, self.others, self.newest)

    def merged(self, rows: list[tuple[str, Entry, Sig]], others: list[str], newest: int) -> Table:
        """This table with `rows` (key, entry, signature) put in their places in
        list order, `others` as its names that are no flow, and `newest` the
        newest time of the files read for them: a binary search per row, then
        slices of the columns, never a sort of the whole table."""
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        sigs = array("q")

        def take(start: int, stop: int) -> None:
            for column, source in zip(columns, self._columns(), strict=True):
                column.extend(source[start:stop])
            sigs.extend(self.sigs[start:stop])

        start = 0
        for key, entry, sig in sorted(rows, key=lambda row: position(row[0], row[1])):
            cut = bisect.bisect_left(range(len(self.keys)), position(key, entry), lo=start, key=self.position)
            take(start, cut)
            for column, value in zip(columns, (key, entry[0], sys.intern(entry[1]), sys.intern(entry[2]), entry[3]),
                                     strict=True):
                column.append(value)
            sigs.append(sig)
            start = cut
        take(start, len(self.keys))
        keys, ids, statuses, kinds, stamps = columns
        return Table(keys, ids, statuses, kinds, stamps, sigs, sorted(others), max(self.newest, newest))


def _empty() -> Table:
    return Table([], [], [], [], [], array("q"), [], 0)


def position(key: str, row: Entry) -> Position:
    """Where a flow stands in `list`: status rank, updatedAt newest first, key."""
    return (RANK.get(row[1], len(RANK)), -row[3], key)


class Loaded(NamedTuple):
    table: Table
    tenant: DirStat | None  # the tenant directory's stat when the listing was read
    problem: str | None  # why the file on disk was not usable (for verify), else None


class Scan(NamedTuple):
    table: Table  # every flow of the tenant, in list order
    parsed: int  # heads read from disk (the others came from the cache)


def _signature(st: os.stat_result) -> Sig:
    """A stat as one int64 (any inode number, past 2**63 too: a hash takes any int)."""
    return hash((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode))


def _signatures(dir_fd: int, keys: list[str]) -> tuple[array[int], list[int]]:
    """The signatures of each key's flow.json, and the rows that have none (gone
    since the listing: re-read, whatever their signature was): the hot loop of a
    10,000-flow tenant, one stat each through a short path relative to the tenant
    directory, hashed as _signature does (spelled out: a call per flow costs more
    than the hash), nothing else kept."""
    stat_of = functools.partial(os.stat, dir_fd=dir_fd, follow_symlinks=False)
    paths = [key + "/flow.json" for key in keys]
    try:
        return array("q", [hash((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode))
                           for st in map(stat_of, paths)]), []
    except OSError:  # one missing: again, one by one
        found, missing = array("q"), []
        for at, path in enumerate(paths):
            try:
                found.append(_signature(stat_of(path)))
            except OSError:
                found.append(SMUDGED)
                missing.append(at)
        return found, missing


def _dir_stat(path: Path) -> DirStat:
    st = os.stat(path, follow_symlinks=False)
    return (st.st_dev, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _header(tenant_dir: Path) -> bytes:
    """What the first line must say: format, flowctl and Python (marshal's format
    is theirs), and the tenant directory it was made for (device and inode: a
    store copied or moved elsewhere has new ones)."""
    st = os.stat(tenant_dir)
    return b"%s %d %s %s %d %d" % (_MAGIC, FORMAT, __version__.encode(), sys.implementation.cache_tag.encode(),
                                   st.st_dev, st.st_ino)


def load(path: Path, tenant_dir: Path) -> Loaded:
    """The cache at `path`; nothing (and why) when it is missing or unusable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return Loaded(_empty(), None, None)
    except OSError as exc:
        return Loaded(_empty(), None, f"cannot be read ({exc.strerror})")
    try:
        mtime_ns = os.fstat(fd).st_mtime_ns
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
        newline = raw.find(b"\n", 0, _HEADER_MAX)
        first, rest = raw[:max(newline, 0)], memoryview(raw)[newline + 1:]  # a view: no second 1 MB copy
        fields = first.rsplit(b" ", 3)
        if newline < 0 or len(fields) != 4 or not raw.startswith(_MAGIC + b" "):
            return Loaded(_empty(), None, "is not a head cache")
        if fields[0] != _header(tenant_dir):
            return Loaded(_empty(), None, None)  # another flowctl, Python or directory: rebuilt, not damage
        if int(fields[1]) != len(rest) or int(fields[2]) != zlib.crc32(rest):
            return Loaded(_empty(), None, "is truncated or corrupt (its checksum fails)")
        if int(fields[3]) >= mtime_ns:
            # Files newer than the cache that says it saw them: clocks disagree
            # (another machine's, a restored backup); nothing in it is trusted.
            return Loaded(_empty(), None, None)
        tenant, joined_keys, ids, statuses, kinds, stamps, sig_bytes, others = marshal.loads(rest)
        keys = joined_keys.split("\n") if joined_keys else []  # keys are names: no newline in one
        sigs = array("q")
        sigs.frombytes(sig_bytes)
        table = Table(keys, ids, statuses, kinds, stamps, sigs, others, int(fields[3]))
        if not all(type(column) is list for column in (ids, statuses, kinds, stamps, others)) \
                or not len(keys) == len(ids) == len(statuses) == len(kinds) == len(stamps) == len(sigs):
            return Loaded(_empty(), None, "is not a head cache")
        return Loaded(table, tuple(tenant) if tenant else None, None)
    except (OSError, ValueError, TypeError, EOFError):
        return Loaded(_empty(), None, "is truncated or corrupt")


def dump(tenant_dir: Path, tenant: DirStat | None, table: Table) -> bytes:
    """The cache file's bytes; its header names the newest time of any file it
    vouches for (load refuses a cache whose own mtime is not later)."""
    payload = marshal.dumps((tenant, "\n".join(table.keys), table.ids, table.statuses, table.kinds, table.stamps,
                             table.sigs.tobytes(), table.others))
    return b"%s %d %d %d\n" % (_header(tenant_dir), len(payload), zlib.crc32(payload), table.newest) + payload


def scan(store: Store, tenant: str, *, rewrite_after: int | None = 0, ids_only: bool = False) -> Scan:
    """Every flow of the tenant as the cache and the files agree it is now: a stat
    of each flow.json, a parse of each head whose stat changed (or is racy), then
    the cache rewritten if anything changed and at least `rewrite_after` heads
    were read (None: never; a failure to write is ignored: it is only a cache).
    Raises what reading a changed head raises (a damaged flow.json is exit 8, as
    without the cache).

    `ids_only` (create, keeping keys and ids unique) skips the stat of each
    flow.json: a flow's id never changes (every snapshot names it; verify
    reports a head that says otherwise), so the ids of the flow directories
    still there stay right whatever else a rewrite changed; directories added
    (a pull, a copy) are listed and read, removed ones dropped, as always."""
    # Thousands of objects are made here at once, none in a reference cycle: the
    # cyclic collector would find nothing in them, but walk every object of the
    # process each time they pass its threshold.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _scan(store, tenant, rewrite_after, ids_only)
    finally:
        if collecting:
            gc.enable()


def _scan(store: Store, tenant: str, rewrite_after: int | None, ids_only: bool) -> Scan:
    tenant_dir = store.tenant_dir(tenant)
    if rewrite_after == 0:
        # A read, which writes the cache whenever anything changed: its directory is
        # made before the tenant directory's stat is taken (making it later would
        # change that stat, and the next read would list the directory again).
        _make_cache_dir(store.head_cache(tenant).parent)
    try:
        tenant_stat = _dir_stat(tenant_dir)
    except FileNotFoundError:
        return Scan(_empty(), 0)
    loaded = load(store.head_cache(tenant), tenant_dir)
    racy_from = time.time_ns() - RACY_NS
    old = kept = loaded.table
    candidates = old.others  # names to read as heads: new ones, and those that were no flow
    dir_fd = os.open(tenant_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # Unless no flow directory was added or removed since the cache was made
        # (the tenant directory's stat is unchanged, and old enough), list it.
        if loaded.tenant != tenant_stat or max(tenant_stat[1], tenant_stat[2]) >= racy_from:
            present = set(os.listdir(dir_fd))
            if not present.issuperset(old.keys):
                kept = old.select([at for at, key in enumerate(old.keys) if key in present])
            # A name flowctl may take for a flow (not .tenant.lock, .cache, staging); a
            # file or symlink there is read the slow way, which refuses it as today.
            present.difference_update(kept.keys)  # in place: no second set of 10,000 names
            candidates = sorted(name for name in present if names.is_name(name))
        seen, missing = (kept.sigs, []) if ids_only else _signatures(dir_fd, kept.keys)
        changed = [] if seen == kept.sigs and not missing else sorted({*_changed(seen, kept.sigs), *missing})
        fresh = [kept.keys[at] for at in changed] + candidates
        if not fresh and kept is old:
            return Scan(old, 0)  # the warm path: nothing changed
        if changed:
            gone = set(changed)
            kept = kept.select([at for at in range(len(kept.keys)) if at not in gone])
        rows, others, newest = _read_heads(store, tenant, dir_fd, fresh, racy_from)
    finally:
        os.close(dir_fd)
    table = kept.merged(rows, others, newest)
    if rewrite_after is not None and len(fresh) >= rewrite_after and \
            (loaded.problem is not None or loaded.tenant != tenant_stat or table != old):
        save(store, tenant, tenant_stat, table)
    return Scan(table, len(fresh))


def _changed(now: array[int], then: array[int]) -> list[int]:
    """The rows whose signatures differ, found by halving: a few comparisons of
    byte strings (memcmp) find k changed rows among n in O(k log n) of them,
    not n comparisons of tuples in Python."""
    now_bytes, then_bytes = now.tobytes(), then.tobytes()
    size = now.itemsize
    found: list[int] = []

    def search(low: int, high: int) -> None:
        if now_bytes[low * size:high * size] == then_bytes[low * size:high * size]:
            return
        if high - low == 1:
            found.append(low)
            return
        middle = (low + high) // 2
        search(low, middle)
        search(middle, high)

    search(0, len(now))
    return found


def _read_heads(store: Store, tenant: str, dir_fd: int, fresh: list[str],
                racy_from: int) -> tuple[list[tuple[str, Entry, Sig]], list[str], int]:
    """The rows of the flows named in `fresh`, read from their heads, the names
    that are no flow, and the newest time of the files trusted. Each flow.json's
    stat is taken before its read and kept only when old enough to trust: a
    change after it shows as a changed signature next time."""
    rows: list[tuple[str, Entry, Sig]] = []
    others: list[str] = []
    newest = 0
    for key in fresh:
        sig = SMUDGED
        try:
            now = os.stat(key + "/flow.json", dir_fd=dir_fd, follow_symlinks=False)
            changed_at = max(now.st_mtime_ns, now.st_ctime_ns)
            if stat.S_ISREG(now.st_mode) and changed_at < racy_from:
                sig, newest = _signature(now), max(newest, changed_at)
        except OSError:
            pass  # gone: the read below says whether it is a flow
        head = _read(store, tenant, key)
        if head is None:
            others.append(key)
            continue
        rows.append((key, _entry(head), sig))
    return rows, others, newest


def _entry(head: Head) -> Entry:
    """What the cache keeps of a head: the row readers trust and verify checks."""
    return (head["id"], head["status"], head["kind"], stamp(head["updatedAt"]))


def _read(store: Store, tenant: str, key: str) -> Head | None:
    """The flow's current head, or None when the directory is not a flow."""
    try:
        return reading.current_head(store.flow_files(tenant, key))
    except NotFound:
        return None


def save(store: Store, tenant: str, tenant_stat: DirStat | None, table: Table) -> bool:
    """Write the cache atomically; False (and nothing changed) when it cannot be
    written: a read-only store or a full disk never fails a read."""
    return write_cache_file(store.head_cache(tenant), dump(store.tenant_dir(tenant), tenant_stat, table))


def _make_cache_dir(directory: Path) -> None:
    try:
        directory.mkdir()
    except OSError:
        pass  # there already, or cannot be: then writing the cache fails, which is allowed


def problems(store: Store, tenant: str) -> list[str]:
    """What `verify` reports of the cache: a file there that is not a usable
    cache, and entries that readers would trust (their flow.json's stat is
    unchanged) but that disagree with the head (a cache showing a stale flow).
    A missing cache, or one of another flowctl, is fine: the next read makes it."""
    tenant_dir = store.tenant_dir(tenant)
    path = store.head_cache(tenant)
    if not os.path.lexists(path):
        return []
    if os.path.islink(path) or not os.path.isfile(path):
        return ["is not a regular file"]
    loaded = load(path, tenant_dir)
    if loaded.problem:
        return [loaded.problem]
    found = []
    table = loaded.table
    for at in sorted(range(len(table.keys)), key=table.keys.__getitem__):
        key = table.keys[at]
        if not names.is_name(key) or _stat(tenant_dir / key / "flow.json") != table.sigs[at]:
            continue  # not trusted by readers either: re-read by the next one
        try:
            head = reading.current_head(store.flow_files(tenant, key))
        except Exception:  # any damage is reported by the flow's own checks
            continue
        if _entry(head) != table.entry(at):
            found.append(f"its entry for flow {key!r} is stale (flow.json changed without its size, "
                         "times or inode changing)")
    positions = [table.position(at) for at in range(len(table.keys))]
    if positions != sorted(positions):
        found.append("is not in list order")
    return found


def _stat(path: Path) -> Sig | None:
    try:
        return _signature(os.stat(path, follow_symlinks=False))
    except OSError:
        return None


def rebuild(store: Store, tenant: str) -> None:
    """`verify --repair`: drop the cache and make it again from every head."""
    try:
        os.unlink(store.head_cache(tenant))
    except FileNotFoundError:
        pass
    scan(store, tenant)

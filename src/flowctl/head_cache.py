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
with the stat of the `flow.json` they came from (size, mtime, ctime, inode);
a release touches its head's times before its commit point (journal), so a
release cut off after it shows too. A read stats each flow.json and re-parses
only the flows whose stat changed; a flow directory added or removed shows in
the tenant directory's own stat, and then its listing is read again.

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

import marshal
import os
import stat
import sys
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, NamedTuple

from . import __version__, names, reading
from .errors import NotFound
from .paging import stamp
from .records import Head
from .store import Store, write_atomic

FORMAT = 2
RACY_NS = 3_000_000_000  # coarser than any file system's timestamps (FAT: 2 s)
_MAGIC = b"flowctl-head-cache"

Stat = tuple[int, int, int, int]  # flow.json's size, mtime, ctime and inode (ns): what a rewrite changes


# What the cache knows of one flow, from its current head: a plain tuple (as marshal
# stores it: 10,000 of them are used as loaded, never rebuilt into objects), read with
# these indices. STAT is None when smudged (racy) or not a plain file: re-read every scan.
Entry = tuple[str, str, str, int, "Stat | None"]
ID: Final = 0
STATUS: Final = 1
KIND: Final = 2
STAMP: Final = 3  # updatedAt as a number (paging.stamp), for list's order
STAT: Final = 4


def _stat(path: str, dir_fd: int | None = None) -> Stat | None:
    """The signature of the plain file `path`, or None when there is none there (a
    symlink, a directory: such a flow is read the slow way, which refuses it)."""
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _newest(signature: Stat) -> int:
    return max(signature[1], signature[2])


DirStat = tuple[int, int, int, int]  # the tenant directory's device, mtime, ctime, inode


def _dir_stat(path: Path) -> DirStat:
    st = os.stat(path, follow_symlinks=False)
    return (st.st_dev, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Loaded(NamedTuple):
    entries: dict[str, tuple[Any, ...] | None]  # key -> Entry fields, None: a listed name that is no flow
    tenant: DirStat | None  # the tenant directory's stat when the listing was read
    problem: str | None  # why the file on disk was not usable (for verify), else None


_ABSENT = Loaded({}, None, None)


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
        return _ABSENT
    except OSError as exc:
        return Loaded({}, None, f"cannot be read ({exc.strerror})")
    try:
        mtime_ns = os.fstat(fd).st_mtime_ns
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
        first, _, rest = raw.partition(b"\n")
        fields = first.rsplit(b" ", 3)
        if len(fields) != 4 or not raw.startswith(_MAGIC + b" "):
            return Loaded({}, None, "is not a head cache")
        if fields[0] != _header(tenant_dir):
            return _ABSENT  # another flowctl, Python or directory: rebuilt, not damage
        if int(fields[1]) != len(rest) or int(fields[2]) != zlib.crc32(rest):
            return Loaded({}, None, "is truncated or corrupt (its checksum fails)")
        if int(fields[3]) >= mtime_ns:
            # Files newer than the cache that says it saw them: clocks disagree
            # (another machine's, a restored backup); nothing in it is trusted.
            return _ABSENT
        tenant, entries = marshal.loads(rest)
        if not isinstance(entries, dict):
            return Loaded({}, None, "is not a head cache")
        return Loaded(entries, tuple(tenant) if tenant else None, None)
    except (OSError, ValueError, TypeError, EOFError):
        return Loaded({}, None, "is truncated or corrupt")


def dump(tenant_dir: Path, tenant: DirStat | None, entries: dict[str, Entry | None], newest: int) -> bytes:
    payload = marshal.dumps((tenant, entries))
    return b"%s %d %d %d\n" % (_header(tenant_dir), len(payload), zlib.crc32(payload), newest) + payload


class Scan(NamedTuple):
    entries: dict[str, Entry]  # every flow of the tenant
    parsed: int  # heads read from disk (the others came from the cache)


def scan(store: Store, tenant: str, *, write: bool = True) -> Scan:
    """Every flow of the tenant as the cache and the files agree it is now: a stat
    of each flow.json, a parse of each head whose stat changed (or is racy), then,
    if anything changed and `write`, the cache rewritten (a failure to write is
    ignored: it is only a cache). Raises what reading a changed head raises (a
    damaged flow.json is exit 8, as without the cache)."""
    tenant_dir = store.tenant_dir(tenant)
    try:
        tenant_stat = _dir_stat(tenant_dir)
    except FileNotFoundError:
        return Scan({}, 0)
    loaded = load(store.head_cache(tenant), tenant_dir)
    racy_from = time.time_ns() - RACY_NS
    cached = loaded.entries
    if loaded.tenant == tenant_stat and max(tenant_stat[1], tenant_stat[2]) < racy_from:
        listing: Iterable[str] = cached.keys()  # no flow directory added or removed since the cache was made
    else:
        # A name flowctl may take for a flow (not .tenant.lock, .cache, staging); a
        # file or symlink there is read the slow way, which refuses it as today.
        listing = [entry.name for entry in os.scandir(tenant_dir) if names.is_name(entry.name)]
    found: dict[str, Entry] = {}
    recorded: dict[str, Entry | None] = {}
    parsed = 0
    changed = loaded.problem is not None or loaded.tenant != tenant_stat
    dir_fd = os.open(tenant_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # short paths stat faster
    stat_, regular = os.stat, stat.S_IFREG
    try:
        for key in listing:  # the hot loop of a 10,000-flow tenant: one stat per flow, nothing more
            old = cached.get(key)
            try:
                st = stat_(key + "/flow.json", dir_fd=dir_fd, follow_symlinks=False)
                seen = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) \
                    if stat.S_IFMT(st.st_mode) == regular else None
            except OSError:
                seen = None
            if old is not None and seen is not None and old[4] == seen:
                found[key] = recorded[key] = old
                continue
            # Stat taken before the read: a change after it shows as a changed stat next time.
            head = _read(store, tenant, key)
            parsed += 1
            if head is None:
                recorded[key] = None
                changed = changed or old is not None
                continue
            fresh = seen is not None and _newest(seen) < racy_from
            entry: Entry = (head["id"], head["status"], head["kind"], stamp(head["updatedAt"]),
                            seen if fresh else None)
            changed = changed or old is None or tuple(entry) != tuple(old)
            found[key] = recorded[key] = entry
    finally:
        os.close(dir_fd)
    changed = changed or len(recorded) != len(cached)
    if write and changed:
        newest = max((_newest(stat_of) for entry in recorded.values() if entry and (stat_of := entry[STAT])),
                     default=0)
        save(store, tenant, tenant_stat, recorded, max(newest, tenant_stat[1], tenant_stat[2]))
    return Scan(found, parsed)


def _read(store: Store, tenant: str, key: str) -> Head | None:
    """The flow's current head, or None when the directory is not a flow."""
    try:
        return reading.current_head(store.flow_files(tenant, key))
    except NotFound:
        return None


def save(store: Store, tenant: str, tenant_stat: DirStat | None, entries: dict[str, Entry | None],
         newest: int = 0) -> bool:
    """Write the cache atomically; False (and nothing changed) when it cannot be
    written: a read-only store or a full disk never fails a read."""
    path = store.head_cache(tenant)
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, dump(store.tenant_dir(tenant), tenant_stat, entries, newest))
    except OSError:
        return False
    return True


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
    for key, old in sorted(loaded.entries.items()):
        seen = _stat(str(tenant_dir / key / "flow.json")) if names.is_name(key) else None
        if old is None or old[4] is None or seen is None or seen != tuple(old[4]):
            continue  # not trusted by readers either: re-read by the next one
        try:
            head = reading.current_head(store.flow_files(tenant, key))
        except Exception:  # any damage is reported by the flow's own checks
            continue
        if (head["id"], head["status"], head["kind"], stamp(head["updatedAt"])) != tuple(old[:4]):
            found.append(f"its entry for flow {key!r} is stale (flow.json changed without its size, "
                         "times or inode changing)")
    return found


def rebuild(store: Store, tenant: str) -> None:
    """`verify --repair`: drop the cache and make it again from every head."""
    try:
        os.unlink(store.head_cache(tenant))
    except FileNotFoundError:
        pass
    scan(store, tenant)

"""Where things live on disk: store discovery, paths, locks, atomic files.

Every path inside a store is built here and nowhere else. Every write goes
through `write_atomic`, `create_exclusive` or `append_line`, which follow
the protocol of docs/contract.md §7: temp file in the same directory, fsync, rename (or
link, for files that must never be overwritten), fsync of the directory.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from . import names
from .errors import BadInput, Busy, Conflict, IntegrityError, NotFound, storage_error

CONFIG_FILE = "flowctl.toml"
STORE_FORMAT = 1
GITIGNORE_LINES = (
    "# flowctl: lock files and unfinished temp files are not history",
    "/flows/**/*.lock",
    "/flows/**/.*.tmp*",
    "/.*.tmp*",
)


def _temp_name(target: Path) -> Path:
    """A temp path beside `target`: `.<name>.tmp-<pid>-<8 hex>` (TEMP_FILE matches it)."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")


def staging_name(target: Path, what: str = "") -> Path:
    """A directory beside flow directory `target` that a create or import builds
    in (`what` ""), or that delete moves the flow to ("deleted-"): STAGING_DIR
    matches it. A key may be 255 chars, the file system's limit for a whole
    name, so it is cut to 64 to leave room for the rest."""
    return target.with_name(f".{target.name[:64]}.tmp-{what}{os.getpid()}-{os.urandom(4).hex()}")


# The exact names flowctl gives its temp files and directories: `verify --repair`
# removes nothing else, so a user's `.tmp/` or `.notes.tmp` is never touched.
TEMP_FILE = re.compile(r"\.(flow\.json|versions\.jsonl|\d{6,}\.json)\.tmp-\d+-[0-9a-f]{8}\Z")
STAGING_DIR = re.compile(r"\.[a-z0-9][a-z0-9._-]{0,63}\.tmp-(deleted-)?\d+-[0-9a-f]{8}\Z")


def fsync_dir(directory: Path) -> None:
    """Make a rename or link inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_temp(target: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write `data` to a new temp file beside `target`, fsynced when `durable`
    (removed again on failure)."""
    temp = _temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, data)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    os.close(fd)
    return temp


def write_atomic(target: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `target` with `data` so every reader sees the old or the new file;
    `durable`: and so that the new one survives a crash (fsync of file and directory)."""
    temp = write_temp(target, data, durable=durable)
    try:
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    if durable:
        fsync_dir(target.parent)


def write_cache_file(target: Path, data: bytes) -> bool:
    """Write a local cache file (in a tenant's `.cache/`: this machine's, never
    history) atomically, making its directory; False, and nothing changed, when
    it cannot be written (a read-only store, a full disk): a cache never fails
    the command that keeps it. Not fsynced (~4 ms): a cache checks its own bytes
    (length and CRC, or a digest), so what a crash leaves of it is ignored and
    made again, like a missing one."""
    try:
        target.parent.mkdir(exist_ok=True)
        write_atomic(target, data, durable=False)
    except OSError:
        return False
    return True


def create_exclusive(target: Path, data: bytes) -> None:
    """Create `target` with `data`, failing with Conflict if it already exists.

    `os.link` refuses an existing name, so even a writer that bypassed the
    lock cannot overwrite an immutable snapshot.
    """
    temp = write_temp(target, data)
    try:
        os.link(temp, target)
    except FileExistsError:
        raise Conflict(f"{target.name} already exists: another writer got there first; retry") from None
    finally:
        os.unlink(temp)
    fsync_dir(target.parent)


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that never follows a symlink in the last component: one there
    is an integrity problem (exit 8), so nothing is read or written through it."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IntegrityError(f"{path}: is a symlink; flowctl never follows links inside the store") from None
        if exc.errno == errno.EISDIR:  # opened for writing: a directory where a store file belongs
            raise IntegrityError(f"{path}: is a directory, not a file: restore the file from git "
                                 f"(`git checkout -- {path}`), then run `flowctl verify`") from None
        if exc.errno == errno.ENOTDIR:  # e.g. versions/ replaced by a file
            raise IntegrityError(f"{path.parent}: is a file where flowctl keeps a directory: restore it from git "
                                 f"(`git checkout -- {path.parent}`), then run `flowctl verify`") from None
        raise


def append_line(target: Path, line: bytes) -> None:
    """Append one whole line with a single O_APPEND write, then fsync.

    A write that fails part-way (a full disk takes what fits) is cut back off,
    so a failed append leaves the file as it was, not with a fragment."""
    fd = open_nofollow(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, line)
            os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass  # recovery drops a torn tail under the lock
            raise
    finally:
        os.close(fd)


def file_size(path: Path) -> int | None:
    """The size of `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def truncate(target: Path, size: int) -> None:
    """Cut `target` back to `size` bytes (dropping a torn or uncommitted tail)."""
    fd = open_nofollow(target, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_bytes(path: Path) -> bytes:
    """Read a store file, refusing to follow a symlink in its last component."""
    fd = open_nofollow(path, os.O_RDONLY)
    try:
        with os.fdopen(fd, "rb") as fh:
            return fh.read()
    except IsADirectoryError:  # a directory where a store file belongs: damage, not an I/O error
        raise IntegrityError(f"{path}: is a directory, not a file: restore the file from git "
                             f"(`git checkout -- {path}`), then run `flowctl verify`") from None


def read_json(path: Path) -> Any:
    """Read a stored JSON file; an unparsable one is an integrity problem (exit 8)."""
    raw = read_bytes(path)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's limit
        raise IntegrityError(
            f"{path}: unreadable (not valid JSON): run `flowctl verify` to see what is damaged"
        ) from None


class FileLock:
    """An exclusive kernel lock (flock) on a lock file, with a timeout.

    We use fcntl directly rather than the filelock package because, after the
    lock is taken, we must check that the file we hold is still the one at the
    path: `delete` moves a flow's directory away, and a writer that waited on
    the old lock must not go on writing into a re-created flow. The kernel
    drops the lock when its holder dies, so a killed writer never blocks the
    next one; the lock file is never deleted (deleting it races, see the
    filelock history).
    """

    def __init__(self, path: Path, timeout: float, what: str) -> None:
        self.path = path
        self.timeout = timeout
        self.what = what
        self.fd: int | None = None

    def __enter__(self) -> FileLock:
        deadline = time.monotonic() + self.timeout
        delay = 0.001
        while True:
            try:
                fd = open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
            except FileNotFoundError:
                raise NotFound(f"{self.what} no longer exists (deleted meanwhile)") from None
            except OSError as exc:  # a full or read-only disk: nothing was written yet
                raise storage_error(exc, self.path) from None
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise Busy(
                            f"{self.what} is busy: another flowctl holds its lock "
                            f"(waited {self.timeout:g}s)", hint="retry, or raise --lock-timeout"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            held = os.fstat(fd)
            try:
                current = os.stat(self.path)
                if (current.st_ino, current.st_dev) == (held.st_ino, held.st_dev):
                    self.fd = fd
                    return self
            except FileNotFoundError:
                pass
            os.close(fd)  # we locked a file that was moved away: take the new one

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


class FlowFiles(NamedTuple):
    """The files of one flow (docs/contract.md §1)."""

    dir: Path

    @property
    def head(self) -> Path:
        return self.dir / "flow.json"

    @property
    def versions(self) -> Path:
        return self.dir / "versions"

    @property
    def version_index(self) -> Path:
        # Derived: one line per version (the `versions` items), rebuilt by verify --repair.
        return self.dir / "versions.jsonl"

    @property
    def audit(self) -> Path:
        return self.dir / "audit.jsonl"

    @property
    def lock(self) -> Path:
        return self.dir / "flow.lock"

    def snapshot(self, version: int) -> Path:
        return self.versions / f"{version:06d}.json"

    def temp_files(self) -> list[Path]:
        """flowctl's own temp files in this flow's directories, by their exact names
        (regular files only). Under the flow's lock, each is a dead writer's."""
        found = []
        for place in (self.dir, self.versions):
            try:
                entries = sorted(os.scandir(place), key=lambda entry: entry.name)
            except OSError:
                continue
            found += [Path(entry.path) for entry in entries
                      if TEMP_FILE.match(entry.name) and entry.is_file(follow_symlinks=False)]
        return found


class Store(NamedTuple):
    """A store root and its settings."""

    root: Path
    default_tenant: str
    settings: Mapping[str, Any] = MappingProxyType({})
    """flowctl.toml as parsed: `[access]` and `[signing]` are read from it when present."""

    @classmethod
    def open(cls, root: Path) -> Store:
        """Open the store at `root` (which holds flowctl.toml)."""
        import tomllib

        settings_path = root / CONFIG_FILE
        try:
            settings = tomllib.loads(read_bytes(settings_path).decode("utf-8"))
        except FileNotFoundError:
            raise NotFound(f"no flowctl store at {root} (no {CONFIG_FILE}): "
                           f"create one with `flowctl init {root}`") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{settings_path}: unreadable: {exc}") from None
        if settings.get("format") != STORE_FORMAT:
            raise IntegrityError(
                f"{settings_path}: store format {settings.get('format')!r} is not supported "
                f"(this flowctl reads format {STORE_FORMAT}); upgrade flowctl"
            )
        default_tenant = settings.get("default_tenant", "default")
        if not isinstance(default_tenant, str) or not names.is_name(default_tenant):
            raise IntegrityError(f"{settings_path}: default_tenant {default_tenant!r} is not a valid tenant name")
        return cls(root=root.resolve(), default_tenant=default_tenant, settings=MappingProxyType(settings))

    @classmethod
    def discover(cls, explicit: str | None) -> Store:
        """Find the store: --store, then $FLOWCTL_STORE, then the nearest
        ancestor of the working directory holding flowctl.toml (as git finds .git)."""
        if explicit == "":
            raise BadInput("the store path is empty", hint="give the store's directory with --store")
        chosen = explicit or os.environ.get("FLOWCTL_STORE")
        if chosen:
            if os.path.exists(chosen) and not os.path.isdir(chosen):
                where = "--store or $FLOWCTL_STORE" if explicit is None else "--store"
                raise BadInput(f"the store path {chosen!r} is a file, not a store directory",
                               hint=f"give {where} the directory that holds flowctl.toml")
            return cls.open(Path(chosen))
        here = Path.cwd()
        for candidate in (here, *here.parents):
            if (candidate / CONFIG_FILE).is_file():
                return cls.open(candidate)
        raise NotFound(
            f"no flowctl store in {here} or any parent",
            hint="run `flowctl init` to make one, or pass --store / set FLOWCTL_STORE"
        )

    @staticmethod
    def init(directory: Path) -> Path:
        """Make a store in `directory`: flowctl.toml, .gitignore, flows/."""
        if directory.exists() and not directory.is_dir():
            raise BadInput(f"{str(directory)!r} exists and is not a directory: choose a new or empty directory")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise BadInput(f"{str(directory)!r}: a part of the path is a file, not a directory: "
                           "choose another directory") from None
        settings = directory / CONFIG_FILE
        body = f'format = {STORE_FORMAT}\ndefault_tenant = "default"\n'.encode()
        try:
            create_exclusive(settings, body)
        except Conflict:
            raise Conflict(f"{directory} is already a flowctl store ({CONFIG_FILE} exists)") from None
        gitignore = directory / ".gitignore"
        existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
        missing = [line for line in GITIGNORE_LINES if line not in existing.splitlines()]
        if missing:
            separator = "" if not existing or existing.endswith("\n") else "\n"
            write_atomic(gitignore, (existing + separator + "\n".join(missing) + "\n").encode())
        (directory / "flows").mkdir(exist_ok=True)
        fsync_dir(directory)
        return directory.resolve()

    # -- paths ---------------------------------------------------------------

    def settings_table(self, name: str, known: tuple[str, ...], hint: str) -> tuple[dict[str, Any] | None, str]:
        """flowctl.toml's table `name` (None when absent) and how messages name it
        (`…/flowctl.toml: [name]`); IntegrityError (exit 8, a broken store setting)
        when it is not a table or has a setting other than `known`."""
        table, where = self.settings.get(name), f"{self.root / CONFIG_FILE}: [{name}]"
        if table is None:
            return None, where
        if not isinstance(table, dict):
            raise IntegrityError(f"{where} must be a table", hint=hint)
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise IntegrityError(f"{where} has unknown setting {unknown[0]!r}: it has {', '.join(known)}")
        return table, where

    def tenant_dir(self, tenant: str) -> Path:
        return self.root / "flows" / names.check_tenant(tenant)

    def flow_files(self, tenant: str, key: str) -> FlowFiles:
        """The files of flow `key`, refusing a directory (the flow's, or its
        versions/ where snapshots are linked) that leads out of the store."""
        files = FlowFiles(self.tenant_dir(tenant) / names.check_key(key))
        if not self._plainly_inside(files.versions):  # then its parent, the flow's directory, is too
            self.check_inside(files.dir)
            self.check_inside(files.versions)
        return files

    def check_inside(self, path: Path) -> None:
        """Refuse a path whose symlinks lead outside the store root (docs/contract.md §7)."""
        if self._plainly_inside(path):
            return
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            raise IntegrityError(f"{path}: cannot be resolved (symlink loop?)") from None
        if not resolved.is_relative_to(self.root):
            raise IntegrityError(f"{path}: is a symlink leading out of the store; flowctl refuses it")

    def _plainly_inside(self, path: Path) -> bool:
        """Whether `path` is under the (resolved) root through names none of which
        is a symlink, so it resolves to itself: one lstat per name below the root,
        where resolve() lstats every name from / and costs a page of `list` a few
        hundred microseconds a flow. False: resolve it to know."""
        current, text = str(self.root), str(path)
        if not text.startswith(current) or text[len(current):len(current) + 1] != os.sep:
            return False
        for name in text[len(current) + 1:].split(os.sep):
            if name == "..":
                return False
            current = os.path.join(current, name)
            try:
                if stat.S_ISLNK(os.lstat(current).st_mode):
                    return False
            except FileNotFoundError:
                return True  # nothing further can be a symlink: resolve() keeps the rest as written
            except OSError:
                return False
        return True

    def flow_keys(self, tenant: str) -> list[str]:
        """The keys of a tenant's flows, sorted; stray and temp entries are skipped."""
        try:
            entries = os.listdir(self.tenant_dir(tenant))
        except FileNotFoundError:
            return []
        return sorted(entry for entry in entries if names.is_name(entry))

    def tenants(self) -> list[str]:
        try:
            entries = os.listdir(self.root / "flows")
        except FileNotFoundError:
            return []
        return sorted(entry for entry in entries if names.is_name(entry))

    def head_cache(self, tenant: str) -> Path:
        """The tenant's local head cache (head_cache.py), `.cache/heads.lock`. In a
        directory of its own, so rewriting it never changes the tenant directory's
        mtime (which tells the cache that flows were added or removed); named
        `*.lock` so the `/flows/**/*.lock` line of every store's .gitignore, old
        ones included, keeps it out of git: like a lock file it is this
        machine's, not history."""
        return self.tenant_dir(tenant) / ".cache" / "heads.lock"

    def tenant_lock(self, tenant: str, timeout: float) -> FileLock:
        """The lock that serialises creating flows in a tenant (key/id uniqueness)."""
        directory = self.tenant_dir(tenant)
        directory.mkdir(parents=True, exist_ok=True)
        self.check_inside(directory)
        # A leading '.' keeps it out of the key namespace (keys start with a letter or digit).
        return FileLock(directory / ".tenant.lock", timeout, f"tenant {tenant!r}")

    def flow_lock(self, files: FlowFiles, timeout: float) -> FileLock:
        return FileLock(files.lock, timeout, f"flow {files.dir.name!r}")

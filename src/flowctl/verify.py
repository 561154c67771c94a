"""`flowctl verify`: check a tenant's flows the way `git fsck` checks objects.

Snapshots are the only source of truth: every one is re-hashed against its
configSha256, numbered 1..N without gaps or extras, and the head, the
derived version index and the audit log must agree with them. `--repair`
does only what is safe: completes a half-finished release forward, drops
torn or uncommitted audit lines, rebuilds the index, removes stray temp
files. A damaged snapshot is never "repaired": restore it from git.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import journal, jsonio, names, records
from .errors import BadInput, FlowctlError, IntegrityError, NotFound
from .store import FlowFiles, Store, read_bytes

_SNAPSHOT_NAME = re.compile(r"(\d{6,})\.json\Z")


@dataclass(frozen=True)
class Finding:
    flow: str
    path: str
    problem: str

    def as_json(self) -> dict[str, str]:
        return {"flow": self.flow, "path": self.path, "problem": self.problem}


def _is_temp(name: str) -> bool:
    return name.startswith(".") and ".tmp" in name


def _pydantic_shape(shape: type) -> Any:
    """The TypedDict of records.py in the form pydantic accepts on Python 3.11.

    records.py keeps stdlib TypedDicts so the read paths never import
    typing_extensions; verify converts them here, nested records included.
    """
    from typing import get_type_hints, is_typeddict

    from typing_extensions import TypedDict

    hints = {name: _pydantic_shape(hint) if is_typeddict(hint) else hint
             for name, hint in get_type_hints(shape).items()}
    return TypedDict(shape.__name__, hints)  # type: ignore[operator]


def _record_problems(record: Any, shape: type, label: str) -> list[str]:
    """Type and field-order problems of a stored record (pydantic checks the types)."""
    from pydantic import TypeAdapter, ValidationError

    if not isinstance(record, dict):
        return [f"{label} is not a JSON object"]
    problems = []
    expected = list(shape.__annotations__)
    if list(record) != expected:
        problems.append(f"{label} fields are not exactly {', '.join(expected)} in that order")
    try:
        TypeAdapter(_pydantic_shape(shape)).validate_python(record, strict=True)
    except ValidationError as exc:
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error["loc"])
            problems.append(f"{label} field {where}: {error['msg']}")
    return problems


class Verifier:
    """Collects the findings for one tenant of a store."""

    def __init__(self, store: Store, tenant: str, progress: Callable[[int], None] | None = None,
                 lock_timeout: float = 10.0) -> None:
        self.store = store
        self.tenant = tenant
        self.progress = progress or (lambda done: None)
        self.lock_timeout = lock_timeout
        self.findings: list[Finding] = []

    def _rel(self, path: Path) -> str:
        return str(path.relative_to(self.store.root)) if path.is_relative_to(self.store.root) else str(path)

    def _add(self, flow: str, path: Path, problem: str) -> None:
        self.findings.append(Finding(flow, self._rel(path), problem))

    def snapshot_count(self, keys: list[str]) -> int:
        """How many snapshot files there are to check (for a progress bar)."""
        total = 0
        for key in keys:
            try:
                total += len(os.listdir(self.store.tenant_dir(self.tenant) / key / "versions"))
            except OSError:
                continue
        return total

    def stray_entries(self, only: str | None = None) -> Iterator[Path]:
        """Temp files and directories left by a killed writer, wherever it writes:
        in one flow's directories, or (for the whole tenant) also the root and tenant."""
        tenant_dir = self.store.tenant_dir(self.tenant)
        places = [] if only else [self.store.root, tenant_dir]
        for key in [only] if only else self.store.flow_keys(self.tenant):
            flow_dir = tenant_dir / key
            if flow_dir.is_dir() and not flow_dir.is_symlink():
                places += [flow_dir, flow_dir / "versions"]
        for place in places:
            try:
                entries = os.listdir(place)
            except OSError:
                continue
            yield from (place / entry for entry in sorted(entries) if _is_temp(entry))

    def check_tenant(self, only: str | None = None) -> list[Finding]:
        """Check every flow of the tenant (or the one flow `only`)."""
        tenant_dir = self.store.tenant_dir(self.tenant)
        if only is None:
            self._recheck_locked(self._check_tenant_strays, self._tenant_lock)
            try:
                entries = sorted(os.listdir(tenant_dir))
            except FileNotFoundError:
                entries = []
            for entry in entries:
                if not entry.startswith(".") and not names.is_name(entry):
                    self._add(entry, tenant_dir / entry, "not a valid flow key: rename or remove it")
        keys = [only] if only else self.store.flow_keys(self.tenant)
        for key in keys:
            self.check_flow(key)
        return self.findings

    def _check_tenant_strays(self) -> None:
        tenant_dir = self.store.tenant_dir(self.tenant)
        for path in self.stray_entries():
            if path.parent in (self.store.root, tenant_dir):
                owner = path.parent.name if path.parent != tenant_dir else ""
                self._add(owner, path, "stray temp file left by an interrupted write: run `flowctl verify --repair`")

    def _tenant_lock(self) -> Any:
        if not self.store.tenant_dir(self.tenant).is_dir():
            raise FileNotFoundError(self.store.tenant_dir(self.tenant))  # verify makes no directory
        return self.store.tenant_lock(self.tenant, self.lock_timeout)

    def check_flow(self, key: str) -> None:
        """Check one flow without its lock, and again under it if anything looks wrong."""
        self._recheck_locked(
            lambda: self._check_flow(key),
            # flow_files refuses a flow leading out of the store: no lock file is made there
            lambda: self.store.flow_lock(self.store.flow_files(self.tenant, key), self.lock_timeout),
        )

    def _recheck_locked(self, check: Callable[[], None], lock: Callable[[], Any]) -> None:
        """Run `check`; if it finds anything, run it again under `lock`, keeping only
        that answer. A write in flight (a snapshot linked, its head not yet replaced;
        a temp file about to be renamed) looks just like one a crash cut off: only
        under the writers' lock are the two told apart. Clean flows take no lock."""
        first = len(self.findings)
        check()
        if len(self.findings) == first:
            return
        try:
            held = lock().__enter__()
        except (OSError, IntegrityError, BadInput):
            return  # a read-only store, a flow or lock file leading outside: the unlocked answer stands
        except NotFound:
            del self.findings[first:]  # deleted meanwhile: nothing left to check
            return
        progress, self.progress = self.progress, lambda done: None
        try:
            del self.findings[first:]
            check()
        finally:
            self.progress = progress
            held.__exit__(None, None, None)

    def _check_flow(self, key: str) -> None:
        files = FlowFiles(self.store.tenant_dir(self.tenant) / key)
        for path in self.stray_entries(key):
            self._add(key, path, "stray temp file left by an interrupted write: run `flowctl verify --repair`")
        for place in (files.dir, files.versions):
            try:
                self.store.check_inside(place)
            except FlowctlError as exc:
                self._add(key, place, exc.message)
                return
        if files.dir.is_symlink() or not files.dir.is_dir():
            self._add(key, files.dir, "not a directory")
            return
        for path in sorted(files.dir.rglob("*")):
            if not path.is_symlink():
                continue
            try:
                outside = not path.resolve().is_relative_to(self.store.root)
            except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a loop
                self._add(key, path, "symlink loop: remove it")
                continue
            if outside:
                self._add(key, path, "symlink leading out of the store: remove it")
        try:
            head = journal.read_head(files)
        except FlowctlError as exc:
            self._add(key, files.head, exc.message)
            return
        for problem in _record_problems(head, records.Head, "flow.json"):
            self._add(key, files.head, problem)
        if head.get("key") != key or head.get("tenantId") != self.tenant:
            self._add(key, files.head, f"key/tenantId say {head.get('key')!r}/{head.get('tenantId')!r}, "
                                       f"but the file lives at {self.tenant}/{key}")
        latest = head.get("latestVersion") if isinstance(head.get("latestVersion"), int) else 0
        entries = self._check_snapshots(key, files, head, latest)
        self._check_head_versions(key, files, head, latest)
        self._check_index(key, files, entries, latest)
        self._check_audit(key, files, head, latest, entries)

    def _check_snapshots(self, key: str, files: FlowFiles, head: dict[str, Any], latest: int) -> dict[int, Any]:
        """Re-hash every snapshot; return the version entries of the good ones."""
        try:
            listing = sorted(os.listdir(files.versions))
        except FileNotFoundError:
            listing = []
            if latest:
                self._add(key, files.versions, "versions/ is missing")
        numbers = set()
        for name in listing:
            match = _SNAPSHOT_NAME.match(name)
            if match and name == files.snapshot(int(match.group(1))).name:
                numbers.add(int(match.group(1)))
            elif not _is_temp(name):
                self._add(key, files.versions / name, "unexpected file in versions/")
        present = sorted(number for number in numbers if 1 <= number <= latest)
        # Gaps walked between the files present, never by enumerating 1..latest:
        # a hand-edited latestVersion of 10**12 must not hang verify.
        for first, last in zip([0, *present], [*present, latest + 1]):
            if last - first == 2:
                self._add(key, files.snapshot(first + 1), f"version {first + 1} is missing (gap in 1..{latest})")
            elif last - first > 2:
                self._add(key, files.snapshot(first + 1),
                          f"versions {first + 1}..{last - 1} are missing (gap in 1..{latest})")
        for extra in sorted(number for number in numbers if not 1 <= number <= latest):
            if extra == latest + 1:
                self._add(key, files.snapshot(extra),
                          f"half-finished publish of v{extra} (head not updated): run `flowctl verify --repair`")
            else:
                self._add(key, files.snapshot(extra), f"version {extra} is beyond latestVersion {latest}")
        good: dict[int, Any] = {}
        for number in present:
            path = files.snapshot(number)
            self.progress(1)
            try:
                snapshot = json.loads(read_bytes(path))
            except FlowctlError as exc:  # a symlink
                self._add(key, path, exc.message)
                continue
            except (ValueError, OSError, RecursionError):
                self._add(key, path, "unreadable: not valid JSON (a git merge conflict?)")
                continue
            problems = _record_problems(snapshot, records.Snapshot, path.name)
            if not problems:
                if jsonio.config_sha256(snapshot["configSnapshot"]) != snapshot["configSha256"]:
                    problems.append("config does not match configSha256: the file was altered")
                if snapshot["version"] != number:
                    problems.append(f"says version {snapshot['version']} but is named {path.name}")
                if (snapshot["flowId"], snapshot["key"]) != (head.get("id"), head.get("key")):
                    problems.append("flowId/key differ from flow.json")
            for problem in problems:
                self._add(key, path, problem)
            if not problems:
                good[number] = records.version_entry(snapshot)
        return good

    def _check_head_versions(self, key: str, files: FlowFiles, head: dict[str, Any], latest: int) -> None:
        active = head.get("activeVersion")
        if latest and active is None:
            self._add(key, files.head, f"activeVersion is null but v{latest} is published")
        if isinstance(active, int) and not 1 <= active <= latest:
            self._add(key, files.head, f"activeVersion {active} is not a published version (1..{latest})")
        if head.get("status") == "active" and active is None:
            self._add(key, files.head, "status is active but nothing is published")

    def _check_index(self, key: str, files: FlowFiles, entries: dict[int, Any], latest: int) -> None:
        raw = self._read(key, files.index)
        if raw is None:
            return
        if raw and not raw.endswith(b"\n"):
            self._add(key, files.index, "last line is torn: run `flowctl verify --repair`")
        indexed = journal.read_index(files)
        if len(indexed) != latest or any(
            entries.get(i + 1) not in (None, entry) for i, entry in enumerate(indexed)
        ):
            self._add(key, files.index, "disagrees with the snapshots: run `flowctl verify --repair` to rebuild it")

    def _check_audit(
        self, key: str, files: FlowFiles, head: dict[str, Any], latest: int, entries: dict[int, Any]
    ) -> None:
        raw = self._read(key, files.audit)
        if raw is None:
            return
        if not raw:
            self._add(key, files.audit, "audit log is missing or empty")
            return
        *complete, torn = raw.split(b"\n")
        if torn:
            self._add(key, files.audit, "last line is torn: run `flowctl verify --repair`")
        released = set()
        previous = 0
        head_row = head.get("rowVersion") if isinstance(head.get("rowVersion"), int) else None
        for number, line in enumerate(complete, start=1):
            try:
                entry = json.loads(line)
            except (ValueError, RecursionError):
                self._add(key, files.audit, f"line {number} is not valid JSON")
                continue
            if not isinstance(entry, dict) or list(entry)[:4] != ["at", "actor", "action", "rowVersion"]:
                self._add(key, files.audit, f"line {number} lacks at, actor, action, rowVersion")
                continue
            row = entry["rowVersion"]
            if not isinstance(row, int) or row <= previous:
                self._add(key, files.audit, f"line {number}: rowVersion {row!r} does not increase")
            elif head_row is not None and row > head_row:
                self._add(key, files.audit, f"line {number}: rowVersion {row} is newer than the head "
                                            "(an uncommitted change): run `flowctl verify --repair`")
            previous = row if isinstance(row, int) else previous
            if entry["action"] in ("publish", "rollback"):
                version = entry.get("version")
                if isinstance(version, int):
                    released.add(version)
                snapshot = entries.get(version) if isinstance(version, int) else None
                if snapshot and (entry["at"], entry["actor"], entry.get("notes", "")) != (
                    snapshot["publishedAt"], snapshot["publishedBy"], snapshot["notes"]
                ):
                    # e.g. a merge that took this log from one branch and the snapshot from another
                    self._add(key, files.audit, f"line {number}: the {entry['action']} of v{version} disagrees "
                                                f"with {files.snapshot(version).name}")
        have = {version for version in released if 1 <= version <= latest}
        if len(have) < latest:
            missing = [v for v in range(1, min(latest, len(have) + 5) + 1) if v not in have][:5]
            shown = ", ".join(f"v{v}" for v in missing) + (" …" if latest - len(have) > 5 else "")
            self._add(key, files.audit, f"no publish/rollback line for {shown}")

    def _read(self, key: str, path: Path) -> bytes | None:
        """A flow file's bytes (b"" when missing); None, with a finding, when it
        cannot be read without following a symlink."""
        try:
            return read_bytes(path)
        except FileNotFoundError:
            return b""
        except FlowctlError as exc:
            self._add(key, path, exc.message)
            return None


def repair(store: Store, tenant: str, only: str | None, lock_timeout: float) -> None:
    """Do what is safe to do, each flow under its lock (see the module docstring).

    Temp files are removed only under the lock of whoever writes them, so an
    in-flight write of a concurrent flowctl is never pulled from under it.
    """
    verifier = Verifier(store, tenant)
    for key in [only] if only else store.flow_keys(tenant):
        try:
            _repair_flow(store, verifier, store.flow_files(tenant, key), lock_timeout)
        except IntegrityError:
            continue  # a flow leading out of the store, a symlinked lock: verify names it, a person decides
    if only is None:
        with store.tenant_lock(tenant, lock_timeout):
            for path in verifier.stray_entries():
                if path.parent in (store.root, store.tenant_dir(tenant)):
                    _remove(path)


def _repair_flow(store: Store, verifier: Verifier, files: FlowFiles, lock_timeout: float) -> None:
    """Repair one flow under its lock."""
    if not files.head.exists():
        return
    with store.flow_lock(files, lock_timeout):
        for path in verifier.stray_entries(files.dir.name):
            _remove(path)
        try:
            head = journal.recover(files)
            truth = [records.version_entry(journal.read_snapshot(files, head, v))
                     for v in range(1, head["latestVersion"] + 1)]
        except (FlowctlError, ValueError, KeyError, TypeError):
            return  # a damaged head or snapshot: nothing safe to rebuild from
        indexed = journal.read_index(files)
        shared = min(len(indexed), len(truth))
        # Rebuild an index that is short, long or torn; never one whose lines
        # disagree with the snapshots (files from two branches): a person decides.
        if indexed[:shared] == truth[:shared] and (
            len(indexed) != len(truth) or (truth and not files.index.read_bytes().endswith(b"\n"))
        ):
            journal.rebuild_index(files, head)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

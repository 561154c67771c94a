"""`flowctl verify`: check a tenant's flows the way `git fsck` checks objects.

Snapshots are the only source of truth: every one is re-hashed against its
configSha256, numbered 1..N without gaps or extras, and the head, the
derived version index and the audit log must agree with them. Every
finding names the file that is wrong and a next step that works; a finding
that `--repair` can fix carries its `fix`, and `repair.py` does exactly
those fixes and nothing else, so the advice never loops.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from . import journal, log_checks, names, reading, records, snapshot_checks
from .errors import BadInput, FlowctlError, IntegrityError, NotFound
from .snapshot_checks import record_problems as record_problems  # bundle.py imports it from here
from .store import STAGING_DIR, TEMP_FILE, FlowFiles, Store, read_bytes

_SNAPSHOT_NAME = re.compile(r"(\d{6,})\.json\Z")

# What `--repair` does for a finding (None: a person must act).
SETTLE = "settle"  # finish or drop what a cut-off write left (journal.settle)
REBUILD_INDEX = "rebuild-index"  # the derived index, from snapshots the audit log confirms
REMOVE = "remove"  # a temp file or staging directory flowctl made, by its exact name
CLEAR_REMNANT = "clear-remnant"  # a deleted flow's directory holding only its lock file (journal.is_remnant)
REBUILD_CACHE = "rebuild-cache"  # the local head cache, from every head (head_cache.py)


class Finding(NamedTuple):
    flow: str
    path: str
    problem: str
    fix: str | None = None
    note: bool = False  # a remark that is no failure (a signer who left the role)

    def as_json(self) -> dict[str, str]:
        return {"flow": self.flow, "path": self.path, "problem": self.problem}


def run(store: Store, tenant: str, only: str | None = None, *, repair: bool = False, lock_timeout: float = 10.0,
        progress: Callable[[int], Callable[[int], None] | None] | None = None) -> tuple[list[str], list[Finding]]:
    """`flowctl verify [FLOW] [--repair]`: repair first if asked, then check the
    tenant (or the one flow `only`). Returns the keys checked and the findings.

    `progress(total)`, if given, is called with the number of snapshots to
    re-hash and may return a callback advanced once per snapshot.
    """
    if repair:
        from .repair import repair as repair_tenant  # repair builds on this module

        repair_tenant(store, tenant, only, lock_timeout)
    verifier = Verifier(store, tenant, lock_timeout=lock_timeout)
    keys = [only] if only else store.flow_keys(tenant)
    if progress is not None:
        advance = progress(verifier.snapshot_count(keys))
        if advance is not None:
            verifier.progress = advance
    return keys, verifier.check_tenant(only)


class FlowState:
    """What the checks of one flow learn on the way, for the checks after them."""

    def __init__(self, key: str, files: FlowFiles, head: dict[str, Any]) -> None:
        self.key, self.files, self.head = key, files, head
        latest = head.get("latestVersion")
        self.latest = latest if type(latest) is int else 0
        self.snapshots: dict[int, dict[str, Any]] = {}  # version → sound snapshot
        # No gap, no damaged snapshot, and a head repair can build on.
        self.snapshots_sound = records.head_problem(head) is None
        self.released: dict[int, dict[str, Any]] = {}  # version → its audit release line
        self.audit_lines: dict[int, int] = {}  # version → the number of that line
        self.swaps: list[tuple[int, dict[str, Any]]] = []  # a policy's rollbacks: (line number, line)
        self.cut_off = False  # a release or change cut off before or after its commit point


class Verifier:
    """Collects the findings for one tenant of a store."""

    def __init__(self, store: Store, tenant: str, progress: Callable[[int], None] | None = None,
                 lock_timeout: float = 10.0) -> None:
        self.store = store
        self.tenant = tenant
        self.progress = progress or (lambda done: None)
        self.lock_timeout = lock_timeout
        self.findings: list[Finding] = []

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.store.root)) if path.is_relative_to(self.store.root) else str(path)

    def add(self, flow: str, path: Path, problem: str, fix: str | None = None) -> None:
        self.findings.append(Finding(flow, self.rel(path), problem, fix))

    def note(self, flow: str, path: Path, text: str) -> None:
        self.findings.append(Finding(flow, self.rel(path), text, note=True))

    def restore(self, flow: str, path: Path, problem: str) -> None:
        self.add(flow, path, f"{problem}: restore it from git (`git checkout -- {self.rel(path)}`)")

    def decide(self, flow: str, path: Path, problem: str, other: Path, note: str = "") -> None:
        self.add(flow, path, f"{problem}{note}: a person must decide: these two files disagree: "
                              f"{self.rel(path)} and {self.rel(other)}; restore the wrong one from git")

    def snapshot_count(self, keys: list[str]) -> int:
        """How many snapshot files there are to check (for a progress bar)."""
        total = 0
        for key in keys:
            try:
                total += len(os.listdir(self.store.tenant_dir(self.tenant) / key / "versions"))
            except OSError:
                continue
        return total

    # -- the tenant ---------------------------------------------------------------

    def check_tenant(self, only: str | None = None) -> list[Finding]:
        """Check every flow of the tenant (or the one flow `only`)."""
        if only is None:
            self.recheck_locked(self.check_tenant_entries, self._tenant_lock)
        for key in [only] if only else self.store.flow_keys(self.tenant):
            self.check_flow(key)
        return self.findings

    def check_tenant_entries(self) -> None:
        """Entries of the tenant directory that are not flows: staging directories
        a killed create, import or delete left (removable when they prove to be
        flowctl's), and names that cannot be flow keys."""
        tenant_dir = self.store.tenant_dir(self.tenant)
        try:
            entries = sorted(os.listdir(tenant_dir))
        except FileNotFoundError:
            return
        for entry in entries:
            path = tenant_dir / entry
            if STAGING_DIR.match(entry) and path.is_dir() and not path.is_symlink():
                if staging_is_flowctls(path):
                    self.add("", path, "unfinished create, import or delete (flowctl's staging directory): "
                                        "`flowctl verify --repair` removes it", REMOVE)
                else:
                    self.add("", path, "named like flowctl's staging directory but holds other files: "
                                        "a person must decide: remove it if it is not yours")
            elif not entry.startswith(".") and not names.is_name(entry):
                self.add(entry, path, "not a valid flow key: rename or remove it")
        from . import head_cache

        for problem in head_cache.problems(self.store, self.tenant):
            self.add("", self.store.head_cache(self.tenant), f"head cache {problem}: `flowctl verify --repair` "
                                                               "rebuilds it (it is local and derived)", REBUILD_CACHE)

    def _tenant_lock(self) -> Any:
        if not self.store.tenant_dir(self.tenant).is_dir():
            raise FileNotFoundError(self.store.tenant_dir(self.tenant))  # verify makes no directory
        return self.store.tenant_lock(self.tenant, self.lock_timeout)

    # -- one flow -----------------------------------------------------------------

    def check_flow(self, key: str) -> None:
        """Check one flow without its lock, and again under it if anything looks wrong."""
        self.recheck_locked(
            lambda: self.check_flow_unlocked(key),
            # flow_files refuses a flow leading out of the store: no lock file is made there
            lambda: self.store.flow_lock(self.store.flow_files(self.tenant, key), self.lock_timeout),
        )

    def recheck_locked(self, check: Callable[[], None], lock: Callable[[], Any]) -> None:
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

    def check_flow_unlocked(self, key: str) -> None:
        files = FlowFiles(self.store.tenant_dir(self.tenant) / key)
        for path in files.temp_files():
            self.add(key, path, "stray temp file left by an interrupted write: "
                                 "`flowctl verify --repair` removes it", REMOVE)
        if not self._check_place(key, files):
            return
        head = self._check_head(key, files)
        if head is None:
            return
        state = FlowState(key, files, head)
        self._check_snapshots(state)
        self._check_head_versions(state)
        log_checks.check_audit(self, state)
        log_checks.check_index(self, state)
        if "signing" in self.store.settings:
            from .signature_checks import check_signatures

            check_signatures(self, state)

    def _check_place(self, key: str, files: FlowFiles) -> bool:
        """The flow's directory is a real one inside the store; no symlink leads out."""
        for place in (files.dir, files.versions):
            try:
                self.store.check_inside(place)
            except FlowctlError as exc:
                self.add(key, place, exc.message)
                return False
        if files.dir.is_symlink() or not files.dir.is_dir():
            self.add(key, files.dir, "not a directory: remove it, or restore the flow from git")
            return False
        for path in sorted(snapshot_checks.symlinks(files.dir)):
            try:
                outside = not path.resolve().is_relative_to(self.store.root)
            except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a loop
                self.add(key, path, "symlink loop: remove it")
                continue
            if outside:
                self.add(key, path, "symlink leading out of the store: remove it")
        return True

    def _check_head(self, key: str, files: FlowFiles) -> dict[str, Any] | None:
        raw = self.read(key, files.head)
        if raw is None:
            return None
        if not raw:
            if journal.is_remnant(files):
                self.add(key, files.dir, "what git left of a deleted flow (its untracked lock file): "
                                         "`flowctl verify --repair` removes it", CLEAR_REMNANT)
                return None
            self.restore(key, files.head, "flow.json is missing: this directory is not a flow "
                                           "(remove it if it is not yours)")
            return None
        try:
            head = json.loads(raw)
        except (ValueError, RecursionError):
            self.restore(key, files.head, "unreadable: not valid JSON (a git merge conflict?)")
            return None
        if not isinstance(head, dict):
            self.restore(key, files.head, "not a flow head: not a JSON object")
            return None
        fields = records.head_fields(head["kind"]) if isinstance(head.get("kind"), str) else None
        for problem in record_problems(head, records.Head, "flow.json", fields) \
                or [problem for problem in [records.head_problem(head)] if problem]:
            self.restore(key, files.head, problem)
        if head.get("key") != key or head.get("tenantId") != self.tenant:
            self.restore(key, files.head, f"key/tenantId say {head.get('key')!r}/{head.get('tenantId')!r}, "
                                           f"but the file lives at {self.tenant}/{key}")
        return head

    def _check_snapshots(self, state: FlowState) -> None:
        """Re-hash every snapshot and check its numbering."""
        files, key, latest = state.files, state.key, state.latest
        try:
            listing = sorted(os.listdir(files.versions))
        except NotADirectoryError:
            self.restore(key, files.versions, "versions/ is a file, not a directory")
            state.snapshots_sound = False
            return
        except FileNotFoundError:
            listing = []
            if latest:
                self.restore(key, files.versions, "versions/ is missing")
                state.snapshots_sound = False
        numbers = set()
        for name in listing:
            match = _SNAPSHOT_NAME.match(name)
            if match and name == f"{int(match.group(1)):06d}.json":  # FlowFiles.snapshot's name
                numbers.add(int(match.group(1)))
            elif not TEMP_FILE.match(name):
                self.add(key, files.versions / name, "unexpected file in versions/: move it out of the store")
        present = sorted(number for number in numbers if 1 <= number <= latest)
        # Gaps walked between the files present, never by enumerating 1..latest:
        # a hand-edited latestVersion of 10**12 must not hang verify.
        for first, last in zip([0, *present], [*present, latest + 1], strict=True):
            if last - first >= 2:
                state.snapshots_sound = False
                which = f"version {first + 1} is" if last - first == 2 else f"versions {first + 1}..{last - 1} are"
                self.restore(key, files.snapshot(first + 1), f"{which} missing (gap in 1..{latest})")
        for extra in sorted(number for number in numbers if not 1 <= number <= latest):
            self._check_extra_snapshot(state, extra)
        facts = (str(files.versions), state.head.get("id"), state.head.get("key"), state.head.get("kind"))
        for number, outcome in snapshot_checks.examine_all(facts, present):
            self.progress(1)
            self._apply_snapshot(state, number, outcome)

    def _check_extra_snapshot(self, state: FlowState, number: int) -> None:
        files, key, latest = state.files, state.key, state.latest
        path = files.snapshot(number)
        if number != latest + 1:
            self.decide(key, path, f"version {number} is beyond latestVersion {latest}", files.head)
            return
        if records.head_problem(state.head) is not None:
            self.decide(key, path, f"a snapshot past latestVersion {latest}", files.head)
            return
        try:
            pending, unproven = reading.examine_pending(files, state.head)  # type: ignore[arg-type]
        except FlowctlError as exc:  # a symlink
            self.add(key, path, exc.message)
            return
        if unproven:
            self.add(key, path, f"lies past latestVersion {latest} but is not a release cut off here "
                                f"({unproven}): a person must decide: move it out of the store if it is "
                                f"not a release of this flow, or restore {self.rel(files.head)} from git")
        elif pending is not None:
            state.cut_off = True
            self.add(key, path, f"half-finished publish of v{number} (head not updated): "
                                 "`flowctl verify --repair` completes it", SETTLE)

    def _apply_snapshot(self, state: FlowState, number: int, outcome: snapshot_checks.Outcome) -> None:
        """Record what `_examine_snapshot` found of version `number`."""
        snapshot, findings = outcome
        for how, problem in findings:
            path = state.files.snapshot(number)
            if how == "decide":
                self.decide(state.key, path, problem, state.files.head)
            elif how == "restore":
                self.restore(state.key, path, problem)
            else:
                self.add(state.key, path, problem)
        if snapshot is None:
            state.snapshots_sound = False
        else:
            state.snapshots[number] = snapshot

    def _check_head_versions(self, state: FlowState) -> None:
        head, key, path, latest = state.head, state.key, state.files.head, state.latest
        active = head.get("activeVersion")
        if latest and active is None:
            self.restore(key, path, f"activeVersion is null but v{latest} is published")
        if isinstance(active, int) and not 1 <= active <= latest:
            self.restore(key, path, f"activeVersion {active} is not a published version (1..{latest})")
        if head.get("status") == "active" and active is None:
            self.restore(key, path, "status is active but nothing is published")

    def read(self, key: str, path: Path) -> bytes | None:
        """A flow file's bytes (b"" when missing); None, with a finding, when it
        cannot be read without following a symlink."""
        try:
            return read_bytes(path)
        except FileNotFoundError:
            return b""
        except FlowctlError as exc:
            self.add(key, path, exc.message)
            return None



_FLOW_FILE = re.compile(r"(flow\.json|audit\.jsonl|versions\.jsonl|flow\.lock)\Z")


def staging_is_flowctls(directory: Path) -> bool:
    """Whether a staging directory holds only what flowctl puts in a flow's
    directory (so removing it can take nothing of a user's)."""
    try:
        for entry in os.scandir(directory):
            if entry.is_symlink():
                return False
            if entry.name == "versions" and entry.is_dir():
                if any(not (_SNAPSHOT_NAME.match(sub.name) or TEMP_FILE.match(sub.name))
                       or not sub.is_file(follow_symlinks=False) for sub in os.scandir(entry.path)):
                    return False
            elif not ((_FLOW_FILE.match(entry.name) or TEMP_FILE.match(entry.name))
                      and entry.is_file(follow_symlinks=False)):
                return False
    except OSError:
        return False
    return True

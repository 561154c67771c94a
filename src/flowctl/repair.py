"""`flowctl verify --repair`: do exactly the fixes verify's findings name.

A finding that `--repair` can fix carries its `fix` (see verify.py); repair
does those and nothing else, each flow under its lock, and verify runs
again afterwards. It completes or drops only what flowctl itself wrote and
can prove (journal.settle), rebuilds the derived index only from snapshots
the audit log confirms, and removes only flowctl's own temp files and
staging directories, by their exact names and contents. It never deletes a
user's file, a snapshot or a draft, and never writes history it cannot prove.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from . import journal, reading
from .errors import FlowctlError, IntegrityError
from .store import FlowFiles, Store
from .verify import REBUILD_CACHE, REBUILD_INDEX, REMOVE, SETTLE, Finding, Verifier


def repair(store: Store, tenant: str, only: str | None, lock_timeout: float) -> None:
    """Repair one flow (`only`) or every flow of the tenant and its directory."""
    verifier = Verifier(store, tenant, lock_timeout=lock_timeout)
    for key in [only] if only else store.flow_keys(tenant):
        try:
            files = store.flow_files(tenant, key)
        except IntegrityError:
            continue  # a flow leading out of the store: verify names it, a person decides
        if not files.head.exists():
            if journal.is_remnant(files):
                with store.tenant_lock(tenant, lock_timeout):  # like every entry of the tenant directory
                    journal.clear_remnant(files)
            continue  # else not a flow: verify names it, a person decides
        with store.flow_lock(files, lock_timeout):
            _repair_flow(verifier, key, files)
    if only is None and store.tenant_dir(tenant).is_dir():
        # Under the tenant's lock, like every entry of the tenant directory: a
        # create or import staging its flow right now is never pulled away.
        with store.tenant_lock(tenant, lock_timeout):
            for finding in _findings(verifier, verifier.check_tenant_entries):
                if finding.fix == REMOVE:
                    shutil.rmtree(store.root / finding.path)
                elif finding.fix == REBUILD_CACHE:
                    from . import head_cache

                    head_cache.rebuild(store, tenant)


def _findings(verifier: Verifier, check: Callable[[], None]) -> list[Finding]:
    """What `check` finds, on its own."""
    verifier.findings = []
    check()
    return verifier.findings


def _repair_flow(verifier: Verifier, key: str, files: FlowFiles) -> None:
    """Under the flow's lock: remove temp files, settle a cut-off write, rebuild the index."""
    findings = _findings(verifier, lambda: verifier.check_flow_unlocked(key))
    for finding in findings:
        if finding.fix == REMOVE:
            (verifier.store.root / finding.path).unlink(missing_ok=True)
    if any(finding.fix == SETTLE for finding in findings):
        try:
            journal.settle(files)
        except FlowctlError:
            return  # what is past the head does not prove itself: a person decides
        findings = _findings(verifier, lambda: verifier.check_flow_unlocked(key))
    index = verifier.rel(files.version_index)
    about_index = [finding for finding in findings if finding.path == index]
    if about_index and all(finding.fix == REBUILD_INDEX for finding in about_index):
        journal.rebuild_index(files, reading.read_head(files))

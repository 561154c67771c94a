"""Every write as one git commit, pushed as a compare-and-swap (docs/contract.md §11).

A push updates the remote branch only if it still points where this clone
started: git's own compare-and-swap on the ref. When it loses (someone else
pushed first), the clone fetches, moves its branch to the remote tip without
its own commit, and runs the same operation again from the top on the new
state (new version number, preconditions checked again), up to `retries`
times. So writers on many machines behave as writers on one disk do: every
operation lands once, on top of the latest state, or fails with the usual
exit code and leaves the clone as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from .errors import BadInput, Busy, Conflict, FlowctlError, Forbidden, IntegrityError, Notice
from .flows import Flows
from .gitrepo import TRAILER, Repo
from .store import Store

T = TypeVar("T")

DEFAULT_RETRIES = 10
_MAX_RETRIES = 1000
_BACKOFF_FIRST, _BACKOFF_CAP = 0.05, 2.0  # seconds: doubled per lost race, jittered, capped


class Plan(NamedTuple):
    """What to do in git after a write: commit (always, when there is a plan),
    push to `remote` (None: commit only), `retries`, and the commit's author."""

    remote: str | None
    retries: int
    author: str | None


def plan(store: Store, *, commit: bool | None = None, push: str | bool | None = None,
         author: str | None = None) -> Plan | None:
    """The git steps a write takes: flags (`commit`, `push`: a remote, False for
    --no-push) over `$FLOWCTL_GIT_PUSH` over the store's [git] table; None when
    nothing asks for a commit (then flowctl never runs git)."""
    table = _table(store)
    source = "--push"
    if push is None and os.environ.get("FLOWCTL_GIT_PUSH") is not None:
        push, source = os.environ["FLOWCTL_GIT_PUSH"] or False, "$FLOWCTL_GIT_PUSH"  # set but empty: no push
    remote = push if isinstance(push, str) else None if push is False else table.get("push") or None
    if remote is not None:
        _check_remote_name(remote, source if isinstance(push, str) else "[git] push")
    if commit is False:  # --no-commit: nothing to push either, unless --push itself says otherwise
        if isinstance(push, str) and source == "--push":
            raise BadInput("--no-commit with --push: a push sends commits, so there would be nothing to push",
                           hint="drop one of them")
        return None
    if not (commit or table.get("commit", False) or remote is not None):
        return None
    if author is not None and not _PERSON.match(author):
        raise BadInput(f"--author {author!r} is not a commit author", hint='give it as "Name <email>"')
    return Plan(remote, table.get("retries", DEFAULT_RETRIES), author)


def _table(store: Store) -> Mapping[str, Any]:
    """The store's [git] table, checked (IntegrityError, exit 8, when malformed: a
    broken store setting, like a malformed [access] or [signing])."""
    found, where = store.settings_table("git", ("commit", "push", "retries"),
                                        hint="write [git] with commit, push and retries")
    table = found or {}
    if not isinstance(table.get("commit", False), bool):
        raise IntegrityError(f"{where} commit must be true or false")
    push = table.get("push", False)
    if not (push is False or (isinstance(push, str) and push)):
        raise IntegrityError(f'{where} push must be the name of a git remote (like "origin") or false')
    retries = table.get("retries", DEFAULT_RETRIES)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= _MAX_RETRIES:
        raise IntegrityError(f"{where} retries must be a whole number from 0 to {_MAX_RETRIES}")
    return table


def _check_remote_name(remote: str, where: str) -> None:
    # Passed to git as an argument: never let it read as an option.
    if remote.startswith("-") or not remote.strip() or any(ch in remote for ch in "\0\n\r"):
        raise BadInput(f"{where} {remote!r} is not the name of a git remote", hint="give a remote such as origin")


def repository(store: Store) -> Repo:
    """The git work tree around the store; BadInput (exit 2) when there is none."""
    repo = Repo.of_store(store.root)
    if repo is None:
        raise BadInput(f"the store {store.root} is not inside a git work tree, but git commits were asked for "
                       "([git] in flowctl.toml, --commit or --push)",
                       hint="run `git init` around it, or pass --no-commit")
    return repo


def check_clean(repo: Repo) -> None:
    """Conflict unless the store's files are as HEAD has them: a user's work in
    progress is never committed, reset or pushed by surprise. Busy while
    another git command holds the index."""
    if (repo.git_dir / "index.lock").exists():
        raise Busy(f"another git command is using the repository at {repo.top} ({repo.git_dir / 'index.lock'} "
                   "exists): nothing was written", hint="retry when it is done; if no git runs, remove that file")
    for marker, what in (("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert"),
                         ("rebase-merge", "rebase"), ("rebase-apply", "rebase")):
        if (repo.git_dir / marker).exists():
            raise Conflict(f"a git {what} is in progress in {repo.top}: flowctl commits on a finished state",
                           hint=f"finish it or abort it (git {what} --abort), then retry")
    repo.check_not_ignored()
    dirty = repo.uncommitted()
    if dirty:
        more = f" and {len(dirty) - 1} more" if len(dirty) > 1 else ""
        raise Conflict(f"the store has uncommitted changes ({dirty[0]}{more}): flowctl commits only its own "
                       "changes, so it writes nothing", hint=f"commit or stash them first (git -C {repo.top} "
                       f"status -- {repo.pathspec()[1]} lists them)")


def move(repo: Repo, commit: str) -> None:
    """Move the branch to `commit` (`Repo.move_to`), and clear what git leaves
    of the flows the move took away (`Repo.clear_remnants`)."""
    repo.move_to(commit)
    repo.clear_remnants()


# -- the write transaction -----------------------------------------------------------


def run_uncommitted(flows: Flows, call: Callable[[Flows], T]) -> T:
    """A write without a commit (--no-commit) in a store with [git]: under the
    clone's git lock all the same, so it never lands inside another process's
    commit, nor is taken back by that one's failure."""
    repo = Repo.of_store(flows.store.root) if shutil.which("git") else None
    if repo is None:
        return call(flows)
    with repo.lock(flows.lock_timeout):
        return call(flows)


def run(plan_: Plan, flows: Flows, operation: str, call: Callable[[Flows], T]) -> T:
    """Run `call` (one write of `operation`) and commit what it changed; with a
    remote, push it, re-running `call` on the remote's newer state when the push
    loses the race. The clone ends as before the command unless the push lands."""
    from . import gitreplay

    repo = repository(flows.store)
    with repo.lock(flows.lock_timeout), _terminate_as_interrupt():
        check_clean(repo)
        start = repo.head()
        branch = repo.branch() if plan_.remote else ""
        pending = gitreplay.pending(repo, plan_.remote, branch) if plan_.remote else []
        result = first_result = call(flows)
        first = describe(operation, result, flows)
        committed = repo.commit_store(commit_message(first, flows), plan_.author or author_of(flows.actor))
        if plan_.remote is None or (committed is None and not pending):
            return result
        for attempt in range(plan_.retries + 1):
            outcome = repo.push(plan_.remote, branch)
            if outcome.status == "ok":
                if attempt:
                    _note_reapplied(flows, first, describe(operation, result, flows), attempt, plan_.remote)
                return result
            if outcome.status == "refused":
                move(repo, start)
                raise Forbidden(f"{plan_.remote} refused the push of {branch}: {outcome.message}; "
                                "nothing was changed here or there")
            if outcome.status == "failed":
                _check_landed(repo, plan_.remote, branch, start, outcome.message)
                return result
            if attempt == plan_.retries:
                break
            time.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_FIRST * 2 ** attempt)))
            try:
                tip = repo.fetch(plan_.remote, branch)
                # A commit an earlier run pushed without hearing back is there already: not again.
                pending = [left for left in pending if not repo.is_ancestor(left.commit, tip)]
                move(repo, tip)
                gitreplay.replay_all(repo, flows, pending)
                result = _on_newer_state(plan_.remote, lambda: _same_release(operation, first_result, call(flows)))
                if repo.commit_store(commit_message(describe(operation, result, flows), flows),
                                     plan_.author or author_of(flows.actor)) is None and not pending:
                    return result  # on the new state the operation changes nothing: nothing to push
            except BaseException:
                repo.discard_store_changes()
                move(repo, start)
                raise
        move(repo, start)
        times = "once" if plan_.retries == 0 else f"{plan_.retries + 1} times"
        raise Busy(f"{plan_.remote} moved on {times} while {operation} was being pushed; nothing was changed",
                   hint="retry (or raise [git] retries)")


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, a timeout) unwinds like Ctrl-C while the
    clone is being moved and re-applied, so it is put back where it started
    instead of being left at the remote's tip with its own commits dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _on_newer_state(remote: str, call: Callable[[], T]) -> T:
    """`call`, with any failure said to be about the remote's state: the clone is
    put back to where it was, so a local `show` would not explain it."""
    try:
        return call()
    except FlowctlError as exc:
        raise type(exc)(f"{exc.message} (on {remote}'s newer state, fetched after a rejected push: "
                        "`flowctl sync` brings it here)", exc.problems, exc.hint) from None


def _same_release(operation: str, first: T, again: T) -> T:
    """Conflict unless a release run again on the remote's state releases what
    the first run did: the same config for a publish (never a draft someone
    else changed meanwhile, which its publisher has not seen), the same target
    for a rollback (its default, "the one below the active", moves with it)."""
    from .releases import Release

    if not (isinstance(first, Release) and isinstance(again, Release)):
        return again
    key = again.head["key"]
    if operation == "publish":
        if first.snapshot["configSha256"] != again.snapshot["configSha256"]:
            raise Conflict(f"the draft of {key!r} was changed meanwhile: publishing now would release a config "
                           "you have not seen", hint=f"review it (flowctl sync; flowctl diff {key} active draft), "
                           "then publish again")
    elif _target(first) != _target(again):
        raise Conflict(f"{key!r} was released meanwhile: the rollback would now go to v{_target(again)}, not "
                       f"v{_target(first)}", hint=f"see `flowctl sync; flowctl versions {key}`, then roll back "
                       "with --version N")
    return again


def _target(release: Any) -> Any:
    return release.snapshot["version"] if release.swapped else release.snapshot["source"].get("restoredVersion")


def _check_landed(repo: Repo, remote: str, branch: str, start: str, why: str) -> None:
    """After a push that got no answer (a dropped connection, a timeout), ask the
    remote with a fetch whether it took the push after all: then all is well.
    Not taken: the clone is put back, Busy. No answer to the fetch either: the
    commit is kept, unpushed (the next write pushes or re-applies it, once), Busy."""
    head = repo.head()
    try:
        tip = repo.fetch(remote, branch)
    except Busy:
        raise Busy(f"could not push {branch} to {remote} ({why}), nor ask it whether the push arrived: the "
                   f"commit {head[:12]} stays in this clone, unpushed, and the next write pushes it (or re-applies "
                   "it, once); do not repeat this command",
                   hint=f"check the remote is reachable, then run `flowctl sync` or `git push {remote} {branch}`") \
            from None
    if repo.is_ancestor(head, tip):
        return
    move(repo, start)
    raise Busy(f"could not push {branch} to {remote}: {why}; nothing was changed",
               hint="check the remote is reachable, then retry")


def _note_reapplied(flows: Flows, first: Description, final: Description, attempts: int, remote: str) -> None:
    """Say that the operation landed on a newer state than the one it started from."""
    tries = f"{attempts} rejected push{'es' if attempts > 1 else ''}"
    meanwhile = ""
    if first.version is not None and final.version is not None and final.version > first.version:
        numbers = list(range(first.version, final.version))
        entries = {entry["version"]: entry for entry in flows.versions(final.key)[1]}
        by = sorted({str(entries[n]["publishedBy"]) for n in numbers if n in entries})
        listed = " and ".join(f"v{n}" for n in numbers) if len(numbers) <= 3 else f"v{numbers[0]}–v{numbers[-1]}"
        meanwhile = (f" ({listed} {'was' if len(numbers) == 1 else 'were'} published meanwhile"
                     f"{' by ' + ', '.join(by) if by else ''})")
    warnings.warn(Notice(f"{final.summary}{meanwhile}: re-applied on top of {remote} after {tries}"),
                  stacklevel=2)


# -- describing an operation --------------------------------------------------------


class Description(NamedTuple):
    """One operation as its commit tells it: what was done to which flow, in
    words a reviewer reads, and the trailer `gitreplay` re-applies it from."""

    action: str  # publish, rollback, create, update, delete, import
    what: str  # `credit-card-nba v7 — "top 3 only"`
    key: str
    version: int | None
    trailer: dict[str, Any]

    @property
    def summary(self) -> str:
        """As a sentence: `published credit-card-nba v7 — "top 3 only"`."""
        done = {"publish": "published", "rollback": "rolled back", "create": "created", "update": "updated",
                "delete": "deleted", "import": "imported"}[self.action]
        return f"{done} {self.what}"


def describe(operation: str, result: Any, flows: Flows) -> Description:
    """The operation `result` came from, for its commit message."""
    from .releases import Release

    op = "update" if operation == "edit" else operation
    trailer: dict[str, Any] = {"op": op, "tenant": flows.tenant, "actor": flows.actor}
    if isinstance(result, Release):
        head, snapshot = result.head, result.snapshot
        key, version = head["key"], snapshot["version"]
        trailer.update(flow=key, version=version)
        if op == "publish":
            trailer["notes"] = snapshot["notes"]
            what = f"{key} v{version}" + _quoted(snapshot["notes"])
        elif result.swapped:
            reason = _swap_reason(flows, key)
            trailer.update(target=version, reason=reason)
            what = f"{key}: v{version} active again (was v{result.previous_version})" + _quoted(reason)
        else:
            target = snapshot["source"].get("restoredVersion")
            reason = re.sub(rf"\ARollback to v{target}(: )?", "", snapshot["notes"])
            trailer.update(target=target, reason=reason)
            what = f"{key} to v{target} as v{version}" + _quoted(reason)
        return Description(op, what, key, version, trailer)
    key = result["key"]
    trailer["flow"] = key
    what = {
        "create": key,
        "update": f"{key} (rowVersion {result['rowVersion']})",
        "delete": f"{key} and its {result['latestVersion']} versions",
        "import": f"{key} ({result['latestVersion']} versions)",
    }[op]
    return Description(op, what, key, None, trailer)


def _swap_reason(flows: Flows, key: str) -> str:
    """A policy rollback's reason: the notes of the audit line it just wrote."""
    audit = flows.history(key)
    return str(audit[-1].get("notes") or "") if audit else ""


def _one_line(text: str) -> str:
    """`text` for a commit subject: control and line-breaking characters as spaces, runs of space as one."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _quoted(notes: str) -> str:
    line = _one_line(notes)
    if not line:
        return ""
    return f' — "{line[:60]}…"' if len(line) > 60 else f' — "{line}"'


def commit_message(description: Description, flows: Flows) -> str:
    """`flowctl: publish credit-card-nba v7 — "top 3 only" (alice)` and the trailer."""
    tenant = "" if flows.tenant == flows.store.default_tenant else f" [tenant {flows.tenant}]"
    subject = f"flowctl: {description.action} {description.what}{tenant} ({_one_line(flows.actor)})"
    # ASCII JSON: no character of the notes can break the trailer's one line.
    return f"{subject}\n\n{TRAILER}: {json.dumps(description.trailer)}\n"


_PERSON = re.compile(r"\A[^<>\n]*[^<>\s][^<>\n]* <[^<>\s]+@[^<>\s]+>\Z")


def author_of(actor: str) -> str | None:
    """The actor as the commit's author when it reads as one (`Ada <ada@example.com>`);
    else None, and git's own user.name/user.email author the commit."""
    return actor if _PERSON.match(actor) else None

"""A clone's branch against others: `flowctl sync` and `flowctl rebase`.

`sync` brings the remote's commits in (fast-forward only, never a merge
flowctl would have to resolve) so they can be verified. `rebase` is for
teams that release through pull requests: after main moved, it re-applies
the branch's flowctl operations on top of it, renumbering versions, so the
pull request merges without conflicts in versions.jsonl and audit.jsonl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from . import gitsync
from .errors import BadInput, Conflict, NotFound
from .flows import Flows
from .gitreplay import Operation, Replayer, operation_of
from .gitrepo import Repo
from .gitrepo import last_line as _reason


class Pulled(NamedTuple):
    """What `sync` did: `branch` moved from `before` to `after` (equal when up to date)."""

    branch: str
    remote: str
    before: str
    after: str
    commits: int
    ahead: bool = False  # this clone has commits the remote lacks


def sync(flows: Flows) -> Pulled:
    """Fetch the branch's remote and fast-forward to it; Conflict when the two
    have diverged (then `flowctl rebase` is the way on)."""
    repo = gitsync.repository(flows.store)
    with repo.lock(flows.lock_timeout):
        branch = repo.branch()
        remote, remote_branch = _upstream(repo, flows, branch)
        before = repo.head()
        try:
            tip = repo.fetch(remote, remote_branch)
        except NotFound:  # the remote has no such branch yet: nothing to pull, this clone is ahead
            return Pulled(branch, remote, before, before, 0, ahead=True)
        if repo.is_ancestor(tip, before):
            return Pulled(branch, remote, before, before, 0, ahead=tip != before)
        if not repo.is_ancestor(before, tip):
            raise Conflict(f"branch {branch} and {remote}/{remote_branch} have diverged: sync only fast-forwards",
                           hint=f"re-apply this branch's operations on top with `flowctl rebase --onto "
                                f"{remote}/{remote_branch}`, or merge with git")
        count = len(repo.commits(f"{before}..{tip}"))
        gitsync.move(repo, tip)  # a fast-forward: `reset --keep` to a descendant
        return Pulled(branch, remote, before, tip, count)


def _upstream(repo: Repo, flows: Flows, branch: str) -> tuple[str, str]:
    """The remote (and its branch) to sync with: [git] push's remote, with this
    branch's name; else the branch's upstream."""
    plan = gitsync.plan(flows.store, commit=True)
    if plan is not None and plan.remote:
        repo.check_remote(plan.remote)
        return plan.remote, branch
    remote = repo.run("config", "--get", f"branch.{branch}.remote", check=False).stdout.strip()
    merge = repo.run("config", "--get", f"branch.{branch}.merge", check=False).stdout.strip()
    if not remote or remote == "." or not merge.startswith("refs/heads/"):
        raise BadInput(f"branch {branch} has no upstream to sync with and [git] push names no remote",
                       hint=f"set one (git branch --set-upstream-to origin/{branch}) or [git] push = \"origin\"")
    return remote, merge.removeprefix("refs/heads/")


class Rebased(NamedTuple):
    """What `rebase` did: the branch now sits on `onto`, with `operations`
    re-applied (each with what it returned) and `picked` other commits copied."""

    branch: str
    onto: str
    before: str
    after: str
    operations: list[tuple[Operation, Any]]
    picked: list[str]


def rebase(flows: Flows, onto: str | None, signing_key: Path | None = None) -> Rebased:
    """Re-apply the branch's commits since it left `onto` on top of `onto`:
    flowctl's operations by running them again (renumbering versions), other
    commits, which must not touch the store, by cherry-picking. The branch
    moves only when all of them applied; else it stays as it was."""
    repo = gitsync.repository(flows.store)
    with repo.lock(flows.lock_timeout):
        gitsync.check_clean(repo)
        branch = repo.branch()
        start = repo.head()
        onto_ref = onto or _default_onto(repo, flows)
        target = repo.resolve(onto_ref)
        found = repo.run("merge-base", start, target, check=False)
        if found.returncode != 0:
            raise BadInput(f"branch {branch} and {onto_ref} share no history: there is nothing to re-apply onto",
                           hint="give --onto a branch this one was made from")
        base = found.stdout.strip()
        if base == target:
            return Rebased(branch, onto_ref, start, start, [], [])
        if repo.commits("--merges", f"{base}..{start}"):
            raise Conflict(f"branch {branch} has merge commits since it left {onto_ref}: flowctl re-applies "
                           "a straight line of commits", hint="rebase it with git first (git rebase)")
        steps = [(commit, operation_of(repo, commit)) for commit in repo.commits(f"{base}..{start}")]
        _check_steps(repo, steps)
        done = repo.run("checkout", "--quiet", "--detach", target, check=False)
        if done.returncode != 0:
            raise Conflict(f"git could not check out {onto_ref}: {_reason(done)}",
                           hint="commit or stash your local changes, then retry")
        repo.clear_remnants()
        operations: list[tuple[Operation, Any]] = []
        picked: list[str] = []
        try:
            replayer = Replayer(repo, flows, signing_key)
            for commit, operation in steps:
                if operation is not None:
                    operations.append((operation, replayer.apply(operation)))
                    continue
                done = repo.run("cherry-pick", "--allow-empty", commit, check=False)
                if done.returncode != 0:
                    raise Conflict(f"commit {commit[:12]} does not apply on {onto_ref}: {_reason(done)}",
                                   hint="commit or stash local changes, or rebase with git (git rebase), then retry")
                picked.append(commit)
            after = repo.head()
            repo.run("update-ref", "-m", f"flowctl rebase onto {onto_ref}", f"refs/heads/{branch}", after, start)
            repo.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        except BaseException:
            repo.run("cherry-pick", "--abort", check=False)
            repo.discard_store_changes()
            repo.run("checkout", "--quiet", branch, check=False)
            repo.clear_remnants()
            raise
        return Rebased(branch, onto_ref, start, after, operations, picked)


def _check_steps(repo: Repo, steps: list[tuple[str, Operation | None]]) -> None:
    """Conflict for a commit flowctl cannot carry over: one that changes the
    store's files without being a flowctl operation (a hand edit, a merge fix)."""
    for commit, operation in steps:
        if operation is None and any(repo.in_store(path) for path in repo.changed_paths(commit)):
            subject = repo.message(commit).partition("\n")[0]
            raise Conflict(f"commit {commit[:12]} ({subject}) changes the store but is not a flowctl operation: "
                           "flowctl cannot re-apply it", hint="rebase with git instead (git rebase), or redo it "
                                                              "with flowctl commands")


def _default_onto(repo: Repo, flows: Flows) -> str:
    """What the branch is rebased onto by default: the remote's default branch."""
    plan = gitsync.plan(flows.store, commit=True)
    remote = plan.remote if plan is not None and plan.remote else "origin"
    found = repo.run("symbolic-ref", "--quiet", "--short", f"refs/remotes/{remote}/HEAD", check=False)
    if found.returncode != 0:
        raise BadInput(f"no default branch is known for remote {remote!r}", hint="give --onto REF (like origin/main)")
    return found.stdout.strip()

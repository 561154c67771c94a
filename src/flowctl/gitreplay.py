"""flowctl operations read back from git commits, and re-applied on a newer state.

Each commit flowctl makes carries a `Flowctl-Operation:` trailer (what was
done, to which flow, by whom); the commit's files carry the rest (the draft
an update left, the config a publish snapshotted). That is enough to run the
operation again on top of another commit, which is what `flowctl rebase`
does for a branch, and what a write does with a commit an interrupted run
left unpushed. Re-applying renumbers versions and checks again that the
operation still makes sense there; when it does not, it stops with a
Conflict (exit 4) naming the commit, and the caller puts the clone back.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

from . import jsonio
from .errors import BadInput, Conflict, NotFound
from .flows import Flows
from .gitrepo import TRAILER, Repo

_OPS = ("create", "update", "publish", "rollback", "delete", "import")
# The head fields an update may change; an update is re-applied field by field.
_UPDATED_FIELDS = ("name", "description", "status", "autoAssembly", "draftConfig", "pausedReason")


class Operation(NamedTuple):
    """One flowctl operation as a commit records it."""

    commit: str
    subject: str
    op: str
    tenant: str
    key: str
    actor: str
    details: dict[str, Any]  # version, notes, target, reason: what the op's trailer says

    def named(self) -> str:
        return f"{self.commit[:12]} ({self.subject})"


def operation_of(repo: Repo, commit: str) -> Operation | None:
    """The flowctl operation `commit` records, or None when it is not one of
    flowctl's (no trailer, a malformed one, or files changed outside the store)."""
    message = repo.message(commit)
    lines = message.splitlines()
    found = [line[len(TRAILER) + 2:] for line in lines if line.startswith(f"{TRAILER}: ")]
    if len(found) != 1:
        return None
    try:
        trailer = json.loads(found[0])
    except ValueError:
        return None
    if not (isinstance(trailer, dict) and trailer.get("op") in _OPS
            and all(isinstance(trailer.get(field), str) for field in ("tenant", "flow", "actor"))):
        return None
    # Only the flow's own files, as flowctl writes them: a commit amended with a file of
    # its own is not an operation re-running would reproduce.
    own = re.compile(re.escape(repo.store_file(f"flows/{trailer['tenant']}/{trailer['flow']}/"))
                     + r"(flow\.json|audit\.jsonl|versions\.jsonl|versions/\d{6,}\.json)\Z")
    if not all(own.match(path) for path in repo.changed_paths(commit)):
        return None
    details = {name: value for name, value in trailer.items() if name not in ("op", "tenant", "flow", "actor")}
    return Operation(commit, lines[0] if lines else "", trailer["op"], trailer["tenant"], trailer["flow"],
                     trailer["actor"], details)


def pending(repo: Repo, remote: str, branch: str) -> list[Operation]:
    """The commits of this branch not yet on `remote`: each must be a flowctl
    operation (one an interrupted run committed but did not push); anything
    else is a user's work, never pushed by surprise (Conflict)."""
    repo.check_remote(remote)
    found = []
    # Not on the very ref the push compares and swaps: a commit that is on another
    # branch of the remote (a merged feature) would still be pushed to this one.
    tracking = f"refs/remotes/{remote}/{branch}"
    known = tracking if repo.run("rev-parse", "--verify", "--quiet", tracking, check=False).returncode == 0 \
        else f"--remotes={remote}"
    for commit in repo.commits("HEAD", "--not", known):
        operation = operation_of(repo, commit)
        if operation is None:
            subject = repo.message(commit).partition("\n")[0]
            raise Conflict(f"branch {branch} has commit {commit[:12]} ({subject}) that is not on {remote} and "
                           "that flowctl did not make: flowctl pushes only its own commits, so it writes nothing",
                           hint=f"push it first (git push {remote} {branch}), or move it to another branch")
        found.append(operation)
    return found


class Replayer:
    """Re-applies operations one after the other on the current state, one
    commit each, remembering how their versions were renumbered (so a later
    rollback to a version made on the branch goes to its new number)."""

    def __init__(self, repo: Repo, flows: Flows, signing_key: Path | None = None) -> None:
        self.repo, self.flows, self.signing_key = repo, flows, signing_key
        self.renumbered: dict[tuple[str, str, int], int] = {}

    def apply(self, operation: Operation) -> Any:
        """Re-apply `operation` and commit it; what the operation returned, or
        None when the state already had it (then nothing is committed)."""
        from . import gitsync

        actor_flows = Flows(self.flows.store, operation.tenant, operation.actor, self.flows.lock_timeout)
        result = _replay(self.repo, actor_flows, operation, self.renumbered, self.signing_key)
        if result is not None:
            description = gitsync.describe(operation.op, result, actor_flows)
            message = gitsync.commit_message(description, actor_flows)
            self.repo.commit_store(message, self.repo.author(operation.commit))  # its author, as git rebase keeps
        return result


def replay_all(repo: Repo, flows: Flows, operations: list[Operation]) -> None:
    """Re-apply `operations` in order on the current state, one commit each."""
    replayer = Replayer(repo, flows)
    for operation in operations:
        replayer.apply(operation)


def _replay(repo: Repo, flows: Flows, operation: Operation, renumbered: dict[tuple[str, str, int], int],
            signing_key: Path | None) -> Any:
    """Run `operation` again on `flows`' current state; None when it is already there."""
    key, details = operation.key, operation.details
    files = flows.store.flow_files(operation.tenant, key)
    where = os.path.relpath(files.dir, flows.store.root).replace(os.sep, "/")

    def stale(why: str) -> Conflict:
        return Conflict(f"{operation.named()} no longer applies: {why}",
                        hint="redo that change by hand on the new base (nothing was changed)")

    if operation.op in ("create", "import"):
        if files.head.exists():
            raise stale(f"a flow {key!r} exists there too")
        made = _head_at(repo, operation.commit, where)
        try:
            flows.resolve(made["id"])
        except NotFound:
            pass
        else:
            raise stale(f"a flow with id {made['id']} exists there too")
        repo.run("checkout", operation.commit, "--", repo.store_file(where))  # the flow's files, byte for byte
        return flows.get(key)
    try:
        current = flows.get(key)
    except NotFound:
        raise stale(f"flow {key!r} is not there (deleted meanwhile?)") from None
    version = details.get("version")
    if operation.op == "delete":
        return flows.delete(key)
    if operation.op == "update":
        before = _head_at(repo, f"{operation.commit}^", where)
        after = _head_at(repo, operation.commit, where)
        changes = {field: after.get(field) for field in _UPDATED_FIELDS if before.get(field) != after.get(field)}
        for field, value in changes.items():
            if current.get(field) not in (before.get(field), value):
                raise stale(f"the {field} of {key!r} was changed there too")
        todo = {field: value for field, value in changes.items() if current.get(field) != value}
        if not todo:
            return None
        return flows.update(key, name=todo.get("name"), description=todo.get("description"),
                            status=todo.get("status"), auto_assembly=todo.get("autoAssembly"),
                            config=todo.get("draftConfig"), paused_reason=todo.get("pausedReason"))
    if operation.op == "publish" and isinstance(version, int):
        snapshot_path = os.path.relpath(files.snapshot(version), flows.store.root).replace(os.sep, "/")
        published = _json_at(repo, operation.commit, snapshot_path)
        if published.get("configSnapshot") != current["draftConfig"]:
            raise stale(f"the draft of {key!r} there is not the config that was published as v{version}")
        release = flows.publish(key, notes=str(details.get("notes") or ""), signing_key=signing_key)
        renumbered[(operation.tenant, key, version)] = release.snapshot["version"]
        return release
    target = details.get("target")
    if operation.op == "rollback" and isinstance(target, int):
        release = flows.rollback(key, version=renumbered.get((operation.tenant, key, target), target),
                                 notes=str(details.get("reason") or ""), signing_key=signing_key)
        if isinstance(version, int) and not release.swapped:
            renumbered[(operation.tenant, key, version)] = release.snapshot["version"]
        return release
    raise stale("its Flowctl-Operation trailer lacks the version it made")


def _json_at(repo: Repo, commit: str, store_relative: str) -> dict[str, Any]:
    data = repo.file_at(commit, repo.store_file(store_relative))
    if data is None:
        raise Conflict(f"commit {commit[:12]} has no {store_relative}: it is not a flowctl operation's commit")
    try:
        document = jsonio.parse_document(data.decode("utf-8"), store_relative)
    except (BadInput, UnicodeDecodeError) as exc:
        raise Conflict(f"commit {commit[:12]}: {store_relative} does not parse ({exc})") from None
    if not isinstance(document, dict):
        raise Conflict(f"commit {commit[:12]}: {store_relative} is not a JSON object")
    return document


def _head_at(repo: Repo, commit: str, flow_dir: str) -> dict[str, Any]:
    return _json_at(repo, commit, f"{flow_dir}/flow.json")

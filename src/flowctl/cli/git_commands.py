"""Commands on the git side of a store: sync (pull and verify) and rebase."""

from typing import Annotated

import typer

from .app import commands
from .common import Settings, command, emit_json
from .options import SigningKeyOption, signing_key


@command(commands, "sync")
def sync(settings: Settings) -> None:
    """Pull the branch's remote (fast-forward only), then verify every tenant.

    With \\[git] push it pulls from that remote; else from the branch's
    upstream. Exit 4 when the branch and the remote have diverged (see
    `flowctl rebase`), 8 when what arrived does not verify.

    Example: flowctl sync
    """
    from .. import gitbranch, verify
    from ..errors import IntegrityError
    from ..store import Store

    pulled = gitbranch.sync(settings.flows())
    store = Store.open(settings.flows().store.root)  # flowctl.toml itself may have arrived changed
    findings = [finding for tenant in store.tenants()
                for finding in verify.run(store, tenant, lock_timeout=settings.flows().lock_timeout)[1]
                if not finding.note]
    moved = pulled.before != pulled.after
    if settings.json:
        emit_json({"branch": pulled.branch, "remote": pulled.remote, "from": pulled.before, "to": pulled.after,
                   "commits": pulled.commits, "ahead": pulled.ahead, "verify": {"ok": not findings,
                                                         "problems": [f.as_json() for f in findings]}})
    else:
        print(f"Fast-forwarded {pulled.branch} to {pulled.remote}'s {pulled.after[:12]} ({pulled.commits} "
              f"commit{'s' if pulled.commits != 1 else ''})" if moved else
              f"{pulled.branch} is ahead of {pulled.remote}: nothing to pull" if pulled.ahead else
              f"{pulled.branch} is up to date with {pulled.remote}")
        for finding in findings:
            print(f"{finding.path}: {finding.problem}")
        if not findings:
            print(f"ok: every tenant verified ({', '.join(store.tenants()) or 'none'})")
    if findings:
        raise IntegrityError(f"{len(findings)} problem{'s' if len(findings) != 1 else ''} in what arrived: "
                             "each line names the file and what to do; see `flowctl verify`")


@command(commands, "rebase")
def rebase(
    settings: Settings,
    onto: Annotated[str | None, typer.Option("--onto", metavar="REF", show_default="the remote's default branch",
                                             help="Re-apply this branch's operations on top of REF.")] = None,
    key: SigningKeyOption = None,
) -> None:
    """Re-apply this branch's flowctl operations on top of REF, renumbering versions.

    For pull requests: after main moved, the branch's creates, updates,
    publishes and rollbacks are run again on top of it, so the pull request
    merges without conflicts. Other commits are copied if they leave the
    store alone. An operation that no longer applies stops with exit 4 and
    the branch is left as it was. Push the result with
    `git push --force-with-lease`.

    Example: flowctl rebase --onto origin/main
    """
    from .. import gitbranch

    done = gitbranch.rebase(settings.flows(), onto, signing_key(key))
    moves = [{"commit": operation.commit, "op": operation.op, "tenant": operation.tenant, "flow": operation.key,
              "from": operation.details.get("version"),
              "to": getattr(result, "snapshot", {}).get("version") if result is not None else None}
             for operation, result in done.operations]
    if settings.json:
        emit_json({"branch": done.branch, "onto": done.onto, "from": done.before, "to": done.after,
                   "operations": moves, "picked": done.picked})
        return
    if done.before == done.after:
        print(f"{done.branch} is already on top of {done.onto}: nothing to rebase")
        return
    print(f"Rebased {done.branch} onto {done.onto}: {len(moves)} operation{'s' if len(moves) != 1 else ''} "
          f"re-applied, {len(done.picked)} other commit{'s' if len(done.picked) != 1 else ''} copied")
    for move in moves:
        renumbered = f" v{move['from']} → v{move['to']}" if move["from"] and move["to"] else ""
        print(f"  {move['op']} {move['flow']}{renumbered}")
    print(f"Push it with `git push --force-with-lease` (it rewrote {done.branch}).")

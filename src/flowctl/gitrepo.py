"""The git work tree a store lives in, driven through the `git` executable.

flowctl never reimplements git: users already trust their git with its
credentials, hooks and config, so every step here is one `git` command,
bounded in time, with prompts off (a CI job must fail, not hang on a
password prompt). Nothing here knows about flows; `gitsync` and `gitreplay`
decide what to commit and when.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .errors import BadInput, Busy, Conflict, FlowctlError, NotFound, StorageError

if TYPE_CHECKING:
    from .store import FileLock

# Local steps take milliseconds; a push or fetch over a slow link may take long,
# but never forever: a hung remote becomes exit 7 (busy, retry), not a stuck CI job.
_LOCAL_TIMEOUT = 120.0
_NETWORK_TIMEOUT = 300.0

# The trailer that marks a commit as one flowctl operation, with what replaying it needs.
TRAILER = "Flowctl-Operation"

# What flowctl writes that is never history: lock files and unfinished temp files
# (docs/contract.md §1.3). Excluded by pathspec too, for a store whose .gitignore lost them.
_NOT_HISTORY = ("flows/**/*.lock", "flows/**/.*.tmp*")


class PushOutcome(NamedTuple):
    """How a push ended: `ok`, `race` (the remote moved: the compare-and-swap
    lost), `refused` (a hook or protected branch said no) or `failed` (no answer)."""

    status: str
    message: str = ""


# A push that lost the race on the ref, as opposed to one a server refused: git's own
# words for "the remote branch is not where you started" (non-fast-forward, fetch
# first, stale info) and a busy remote's lock failure ("cannot lock ref ... expected").
_RACE_REASONS = re.compile(r"non-fast-forward|fetch first|stale info|cannot lock ref|failed to update ref|"
                           r"incorrect old value|but expected|reference already exists")


class Repo:
    """The work tree holding a store, and the store's path inside it."""

    def __init__(self, top: Path, git_dir: Path, store_path: str) -> None:
        self.top = top
        self.git_dir = git_dir
        self.store_path = store_path  # the store root relative to `top`, "." when it is the top

    @classmethod
    def of_store(cls, store_root: Path) -> Repo | None:
        """The work tree around `store_root`, or None when it is not in one."""
        executable()
        found = _git(store_root, "rev-parse", "--show-toplevel", "--absolute-git-dir", check=False)
        if found.returncode != 0:
            return None
        top_text, git_dir_text = found.stdout.split("\n")[:2]  # not splitlines: a path may hold U+2028
        top = Path(top_text).resolve()
        relative = os.path.relpath(store_root.resolve(), top)
        return cls(top, Path(git_dir_text), relative.replace(os.sep, "/"))

    # -- running git -------------------------------------------------------------

    def run(self, *args: str, check: bool = True, stdin: str | None = None,
            network: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return _git(self.top, *args, check=check, stdin=stdin, network=network, env=env)

    def pathspec(self) -> list[str]:
        """`--` and the pathspecs naming the store's files, those flowctl writes:
        `flows/` (not flowctl.toml or the allowed signers, which people edit),
        minus what is never history."""
        base = "" if self.store_path == "." else self.store_path + "/"
        return ["--", f"{base}flows", *(f":(exclude,glob){base}{pattern}" for pattern in _NOT_HISTORY)]

    def store_file(self, relative: str) -> str:
        """A path inside the store as git names it from the top (`store/flows/...`)."""
        return relative if self.store_path == "." else f"{self.store_path}/{relative}"

    def in_store(self, path: str) -> bool:
        """Whether `path` (from the top) is one of the store's files (`pathspec`)."""
        return path.startswith(self.store_file("flows/"))

    def lock(self, timeout: float) -> FileLock:
        """The lock that serialises flowctl's git steps in this clone (inside .git,
        so it is never committed)."""
        from .store import FileLock

        return FileLock(self.git_dir / "flowctl-git.lock", timeout, "the git lock of this clone")

    # -- reading -----------------------------------------------------------------

    def head(self) -> str:
        found = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if found.returncode != 0:
            raise BadInput(f"the git repository at {self.top} has no commit yet",
                           hint="commit the store once by hand (git add -A && git commit), then retry")
        return found.stdout.strip()

    def branch(self) -> str:
        found = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if found.returncode != 0:
            raise BadInput(f"the git work tree at {self.top} is on a detached HEAD: flowctl commits to a branch",
                           hint="check out a branch (git switch BRANCH), then retry")
        return found.stdout.strip()

    def check_remote(self, remote: str) -> None:
        if self.run("remote", "get-url", remote, check=False).returncode != 0:
            raise BadInput(f"the git repository at {self.top} has no remote {remote!r}",
                           hint="add it (git remote add NAME URL) or set [git] push to an existing remote")

    def uncommitted(self) -> list[str]:
        """The store's files (`pathspec`) that differ from HEAD, or that git does not track."""
        found = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames",
                         *self.pathspec())
        return [entry[3:] for entry in found.stdout.split("\0") if entry]

    def commits(self, *revisions: str) -> list[str]:
        """The commits `git rev-list` names for `revisions`, oldest first."""
        return self.run("rev-list", "--reverse", *revisions).stdout.split()

    def message(self, commit: str) -> str:
        return self.run("log", "-1", "--format=%B", commit).stdout

    def author(self, commit: str) -> str:
        """`Name <email>` of the commit's author."""
        return self.run("log", "-1", "--format=%an <%ae>", commit).stdout.strip()

    def changed_paths(self, commit: str) -> list[str]:
        """The paths `commit` changes against its first parent."""
        found = self.run("diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", "-m",
                         "--first-parent", commit)
        return [path for path in found.stdout.split("\0") if path]

    def file_at(self, commit: str, path: str) -> bytes | None:
        """The bytes of `path` (from the top) in `commit`, or None when it has no such file."""
        found = subprocess.run(["git", "cat-file", "blob", f"{commit}:{path}"], cwd=self.top,
                               capture_output=True, timeout=_LOCAL_TIMEOUT, env=_environment())
        return found.stdout if found.returncode == 0 else None

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.run("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def resolve(self, ref: str) -> str:
        found = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if found.returncode != 0 or not ref or ref.startswith("-"):
            raise BadInput(f"{ref!r} names no commit in the git repository at {self.top}",
                           hint="give a branch or commit, such as origin/main (git fetch first)")
        return found.stdout.strip()

    # -- changing ----------------------------------------------------------------

    def ignored(self) -> list[str]:
        """The store's history files that git ignores, untracked (a global `*.jsonl`
        rule, say), so a commit would silently leave them out: those there, and
        those a new flow would have (probed by name, before anything is written)."""
        base = "" if self.store_path == "." else self.store_path + "/"
        names = ("flow.json", "audit.jsonl", "versions.jsonl", "versions/000001.json")
        found = self.run("ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--",
                         *(f":(glob){base}flows/*/*/{name.replace('000001', '*')}" for name in names))
        probe = self.run("check-ignore", "-z", "--no-index", "--stdin", check=False,
                         stdin="".join(f"{base}flows/default/flowctl-probe/{name}\0" for name in names))
        return [path for path in (found.stdout + probe.stdout).split("\0") if path]

    def check_not_ignored(self) -> None:
        ignored = self.ignored()
        if ignored:
            named = ignored[0].replace("/flowctl-probe/", "/<flow>/")  # the probe: no such file yet
            rule = f"git -C {self.top} check-ignore --no-index -v {ignored[0]}"
            raise BadInput(f"git ignores {named}, a file of the store's history, so a commit would leave it out",
                           hint=f"find the rule with `{rule}` and remove it, or add `!flows/**` after it in the "
                                "store's .gitignore")

    def commit_store(self, message: str, author: str | None) -> str | None:
        """Commit exactly the store's changed files (other staged paths stay staged,
        uncommitted); None when the store has nothing to commit. On any failure
        the store's files are put back as HEAD has them (or the error says they
        could not be)."""
        try:
            self.run("add", "--all", *self.pathspec())
            self.check_not_ignored()
            if self.run("diff", "--cached", "--quiet", *self.pathspec(), check=False).returncode == 0:
                return None
            args = ["commit", "--quiet", "--file=-", "--only"]
            if author:
                args.append(f"--author={author}")
            done = self.run(*args, *self.pathspec(), stdin=message, check=False)
            if done.returncode != 0:
                raise _commit_refused(done)
        except FlowctlError as exc:
            if not self.discard_store_changes():
                raise StorageError(f"{exc.message}; the change is written in the store's files but git could "
                                   "neither commit it nor take it back", hint=f"commit it (git -C {self.top} add "
                                   f"{self.pathspec()[1]} && git commit) or discard it (git checkout -- "
                                   f"{self.pathspec()[1]} && git clean -d --force -- {self.pathspec()[1]})") from None
            raise
        return self.head()

    def discard_store_changes(self) -> bool:
        """Put the store's files back as HEAD has them: unstaged, unchanged, and
        the untracked files just written removed (the store was clean when we
        began). Whether that worked."""
        self.run("reset", "--quiet", *self.pathspec(), check=False)
        self.run("checkout", "--quiet", "HEAD", *self.pathspec(), check=False)
        self.run("clean", "--quiet", "-d", "--force", *self.pathspec(), check=False)
        self.clear_remnants()
        try:
            return not self.uncommitted()
        except FlowctlError:
            return False

    def clear_remnants(self) -> None:
        """Remove what git leaves of flows it no longer has: a flow directory with
        nothing but its untracked lock file (`journal.clear_remnant`)."""
        from . import journal
        from .store import FlowFiles

        flows_dir = self.top / self.store_file("flows")
        for flow_dir in flows_dir.glob("*/*/"):
            # Dot names are flowctl's own (a create's staging directory, the head cache): never a flow.
            if not flow_dir.name.startswith(".") and not (flow_dir / "flow.json").exists():
                journal.clear_remnant(FlowFiles(flow_dir))

    def move_to(self, commit: str) -> None:
        """Move the branch (and the files that differ) from HEAD to `commit`, as
        `git checkout` moves between branches (a two-tree `read-tree -m -u`):
        every local change, staged or not, to a path the move leaves alone is
        kept; Conflict when git would have to overwrite one."""
        head = self.head()
        done = self.run("read-tree", "--quiet", "-m", "-u", head, commit, check=False) if head != commit else None
        if done is not None and done.returncode != 0:
            raise Conflict(f"git could not move the branch to {commit[:12]}: {last_line(done)}",
                           hint="commit or stash your local changes, then retry")
        self.run("update-ref", "-m", f"flowctl: move to {commit[:12]}", "HEAD", commit, head)

    def push(self, remote: str, branch: str) -> PushOutcome:
        try:
            done = self.run("push", "--porcelain", remote, f"HEAD:refs/heads/{branch}", check=False, network=True)
        except Busy as exc:  # timed out: whether the remote took it is unknown, as for a dropped connection
            return PushOutcome("failed", exc.message)
        if done.returncode == 0:
            return PushOutcome("ok")
        status = [line for line in done.stdout.splitlines() if line.startswith("!")]
        server = "; ".join(line[len("remote: "):].strip() for line in done.stderr.splitlines()
                           if line.startswith("remote: ") and line[len("remote: "):].strip())
        if not status:
            if not any(line.startswith("fatal:") for line in done.stderr.split("\n")):
                # No word from the remote and no failure to reach it: a local pre-push hook said no.
                hook = "; ".join(line.strip() for line in done.stderr.split("\n")
                                 if line.strip() and not line.startswith("error: failed to push some refs"))
                return PushOutcome("refused", f"a local pre-push hook refused it: {hook or 'no message'}")
            return PushOutcome("failed", last_line(done))
        reason = status[0].split("\t")[-1]
        if _RACE_REASONS.search(reason):
            return PushOutcome("race", reason)
        return PushOutcome("refused", f"{reason}: {server}" if server else reason)

    def fetch(self, remote: str, branch: str) -> str:
        """The remote branch's tip, fetched (and recorded as remote/branch)."""
        done = self.run("fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
                        check=False, network=True)
        if done.returncode != 0:
            if "couldn't find remote ref" in done.stderr:
                raise NotFound(f"{remote} has no branch {branch} yet",
                               hint=f"push it first (git push -u {remote} {branch})")
            raise Busy(f"git could not fetch {branch} from {remote}: {last_line(done)}",
                       hint="check the remote is reachable, then retry")
        return self.resolve(f"refs/remotes/{remote}/{branch}")


def executable() -> str:
    """The git on PATH; BadInput naming how to get one."""
    found = shutil.which("git")
    if found is None:
        raise BadInput("git is not installed (or not on PATH), and [git] in flowctl.toml needs it",
                       hint="install git (apt-get install git, brew install git), or remove [git]")
    return found


_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX", "GIT_CEILING_DIRECTORIES")


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Never prompt (a CI job must fail, not wait for a password), and speak git's
    # untranslated words, which PushOutcome parses. The repository is the store's, found from its
    # directory: a GIT_DIR or GIT_WORK_TREE exported by a script or a hook must not redirect it.
    inherited = {name: value for name, value in os.environ.items() if name not in _REPOSITORY_VARIABLES}
    return {**inherited, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C", **(extra or {})}


def _git(cwd: Path, *args: str, check: bool = True, stdin: str | None = None, network: bool = False,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    timeout = _NETWORK_TIMEOUT if network else _LOCAL_TIMEOUT
    # Its own process group, so a timeout stops git's helpers too (ssh, credential helpers), not git alone.
    with subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="surrogateescape",
                          env=_environment(env), start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise Busy(f"`git {args[0]}` did not finish within {timeout:.0f} s") from None
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): git must let go of its locks first
            _stop(process)
            raise
    done = subprocess.CompletedProcess(["git", *args], process.returncode, stdout, stderr)
    if check and done.returncode != 0:
        raise StorageError(f"`git {' '.join(args[:2])}` failed in {cwd}: {last_line(done)}",
                           hint="check the repository with `git status`, then retry")
    return done


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop git and its helpers: SIGTERM first, on which git removes its lock files
    (index.lock), so whoever cleans up after us is not blocked; SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
            process.communicate(timeout=wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """git's reason in one line: its `error:`/`fatal:` lines (where it says what is
    wrong, often over several), else its last line."""
    raw = [line for line in (done.stderr or done.stdout).split("\n") if line.strip()]
    said: list[str] = []
    for line in raw:
        if line.startswith(("error:", "fatal:")):
            said.append(line.split(":", 1)[1].strip())
        elif said and line[:1] in ("\t", " "):  # the paths git lists under its error
            said[-1] += f" {line.strip()}"
    said = [line for line in said if line and not line.startswith("failed to push some refs")] or said
    lines = [line.strip() for line in raw]
    return "; ".join(said) if said else lines[-1] if lines else f"exit status {done.returncode}"


def _commit_refused(done: subprocess.CompletedProcess[str]) -> FlowctlError:
    from .errors import Forbidden

    text = done.stderr + done.stdout
    if "Please tell me who you are" in text or "empty ident" in text:
        return BadInput("git does not know who is committing (no user.name/user.email)",
                        hint='set them (git config user.name "Ada"; git config user.email ada@example.com) '
                             "or give --author \"Name <email>\"")
    return Forbidden(f"git refused the commit: {last_line(done)}; nothing was changed")

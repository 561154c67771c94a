"""What every command shares: global options, error reporting, output.

Global options (--store, --tenant, --actor, --json, --lock-timeout) may
stand before or after the command, like kubectl's flags: the app callback
takes them before it, and `command()` adds them to every command's own
signature, the later value winning.
"""

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, TypeVar

import typer

from .. import jsonio
from ..errors import FlowctlError

if TYPE_CHECKING:
    from ..api import Store
    from ..flows import Flows

GLOBAL_PANEL = "Global options"
GIT_PANEL = "Git options"
T = TypeVar("T")

# The commands that write a store: each commits (and pushes) under [git] (docs/contract.md §11).
WRITE_COMMANDS = ("create", "update", "edit", "publish", "rollback", "delete", "import")

StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store root (default: $FLOWCTL_STORE, else nearest flowctl.toml upward).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant (default: $FLOWCTL_TENANT, else the store's default tenant).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who is acting, for the audit log (default: $FLOWCTL_ACTOR, else your login).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print exactly one JSON document on stdout (errors as JSON on stderr).",
                 rich_help_panel=GLOBAL_PANEL),
]
LockTimeoutOption = Annotated[
    float | None,
    typer.Option("--lock-timeout", metavar="SECONDS", min=0,
                 help="How long a write waits for the flow's lock before exit 7 (default 10).",
                 rich_help_panel=GLOBAL_PANEL, show_default=False),
]
NoColorOption = Annotated[
    bool,
    typer.Option("--no-color", help="No colours or styles in human output (also: the NO_COLOR variable).",
                 rich_help_panel=GLOBAL_PANEL),
]
CommitOption = Annotated[
    bool | None,
    typer.Option("--commit/--no-commit", show_default=False, rich_help_panel=GIT_PANEL,
                 help="Commit this write's files in the store's git work tree (default: \\[git] commit)."),
]
PushOption = Annotated[
    str | None,
    typer.Option("--push", metavar="REMOTE", show_default=False, rich_help_panel=GIT_PANEL,
                 help="Commit, then push the branch to REMOTE, re-applying the write if the remote moved "
                      "(default: $FLOWCTL_GIT_PUSH, else \\[git] push)."),
]
NoPushOption = Annotated[
    bool,
    typer.Option("--no-push", rich_help_panel=GIT_PANEL, help="Do not push, whatever \\[git] push says."),
]
AuthorOption = Annotated[
    str | None,
    typer.Option("--author", metavar='"NAME <EMAIL>"', show_default=False, rich_help_panel=GIT_PANEL,
                 help="The commit's author (default: the actor when it reads as one, else git's user)."),
]


class Settings(NamedTuple):
    """The global options of one invocation."""

    store: str | None = None
    tenant: str | None = None
    actor: str | None = None
    json: bool = False
    lock_timeout: float | None = None
    no_color: bool = False
    command: str = ""
    git_commit: bool | None = None
    git_push: str | bool | None = None  # a remote, or False for --no-push
    author: str | None = None

    def merged(self, **later: Any) -> "Settings":
        """These settings overridden by the options given after the command."""
        given = {name: value for name, value in later.items() if value is not None and value is not False}
        return self._replace(**given)

    def flows(self) -> "Flows":
        """The core object for this invocation: the store found, tenant and actor
        decided exactly as `flowctl.open_store` decides them (`api.connect`); an
        empty --tenant or $FLOWCTL_TENANT is bad input (exit 2), not the default."""
        from ..api import connect

        return connect(self.store, self.tenant, self.actor, self.lock_timeout)

    def open_store(self) -> "Store":
        """The read facade over `flows()`: what the read commands call."""
        from ..api import Store

        return Store(self.flows())

    def write(self, call: Callable[["Flows"], T], flows: "Flows | None" = None, *, dry_run: bool = False) -> T:
        """Run the write `call` on `flows` (default: `flows()`), as one git commit
        (and push) when the store's [git] table, --commit/--push or
        $FLOWCTL_GIT_PUSH ask for one; else (and for a dry run, which writes
        nothing) exactly as without git."""
        flows = flows or self.flows()
        asked = not dry_run and (self.git_commit is not None or self.git_push is not None
                                 or "FLOWCTL_GIT_PUSH" in os.environ or "git" in flows.store.settings)
        if not asked:
            return call(flows)  # gitsync is not even imported
        from .. import gitsync

        plan = gitsync.plan(flows.store, commit=self.git_commit, push=self.git_push, author=self.author)
        if plan is None:
            return gitsync.run_uncommitted(flows, call) if "git" in flows.store.settings else call(flows)
        return gitsync.run(plan, flows, self.command, call)


_GLOBAL_PARAMS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("store", StoreOption, None),
        ("tenant", TenantOption, None),
        ("actor", ActorOption, None),
        ("json", JsonOption, False),
        ("lock_timeout", LockTimeoutOption, None),
        ("no_color", NoColorOption, False),
    )
]
_GLOBAL_NAMES = [param.name for param in _GLOBAL_PARAMS]
_GIT_PARAMS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
    for name, annotation, default in (
        ("git_commit", CommitOption, None),
        ("git_push", PushOption, None),
        ("git_no_push", NoPushOption, False),
        ("author", AuthorOption, None),
    )
]


# The releases check their role in the core, as the signer's principal when signed (releases.py).
_ROLE_CHECKED_IN_CORE = ("publish", "rollback")


def command(app: typer.Typer, name: str, *, store: bool = True,
            **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(settings, ...)` as command `name`, with the global options added.

    The function's first parameter receives the merged `Settings`; typer sees
    the rest of its parameters plus the global ones (and, for a write
    command, the git ones). A command on a store (`store`) first checks that
    the actor may do `name` under the store's [access] table (§5.17).
    """
    git_params = _GIT_PARAMS if name in WRITE_COMMANDS else []

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(fn).parameters.values())[1:]  # drop `settings`
        context = inspect.Parameter("_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

        @functools.wraps(fn)
        def wrapper(*args: Any, **values: Any) -> Any:
            ctx = values.pop("_ctx")
            later = {name: values.pop(name) for name in _GLOBAL_NAMES}
            settings = (ctx.obj or Settings()).merged(**later)._replace(command=name)
            if git_params:
                if values.pop("git_no_push"):
                    if values["git_push"] is not None:
                        from ..errors import BadInput

                        raise BadInput("--push and --no-push contradict each other", hint="give one of them")
                    values["git_push"] = False
                settings = settings._replace(git_commit=values.pop("git_commit"), git_push=values.pop("git_push"),
                                             author=values.pop("author"))
            ctx.obj = settings
            if store and name not in _ROLE_CHECKED_IN_CORE:
                settings.flows().authorize(name)
            return fn(settings, *args, **values)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == p.POSITIONAL_OR_KEYWORD else p
                  for p in own]
        wrapper.__signature__ = inspect.Signature([*params, context, *git_params, *_GLOBAL_PARAMS])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}  # type: ignore[attr-defined]
        app.command(name, **kwargs)(wrapper)
        return fn

    return register


# -- output ------------------------------------------------------------------


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout: indented on a terminal, one line when
    piped (as Helm and gh do), which keeps 10,000 versions cheap to print."""
    if sys.stdout.isatty():
        sys.stdout.write(jsonio.dumps(data))
    else:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def emit_result(settings: "Settings", data: Any, *, quiet: bool, essential: Any, message: str) -> None:
    """How every write command reports: the JSON document with --json, only the
    essential value with -q (for `$(...)`), else a sentence for a person."""
    if settings.json:
        emit_json(data)
    elif quiet:
        print(essential)
    else:
        print(message)


def wants_json(argv: list[str]) -> bool:
    """Whether --json was asked for, read off argv so even a usage error obeys it."""
    return "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv


# Characters that would break a message's one line, or hide in it, on a terminal or for
# str.splitlines(): C0 controls, DEL, C1 controls, the Unicode line and paragraph
# separators, and lone surrogates (not text: stderr cannot always encode them).
_UNSAFE = (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000))
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@functools.cache  # built on the first error only: every command imports this module
def _escapes(for_json: bool) -> dict[int, str]:
    """str.translate tables: `\\n`, `\\x1b`, `\\u2028` for a line of text; for JSON,
    which escapes C0 itself, `\\u0085`-style escapes for the rest."""
    if for_json:
        return {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}
    return {code: _SHORT_ESCAPES.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
            for code in _UNSAFE}


def one_line(text: str) -> str:
    """`text` with every control or line-breaking character escaped, so a message
    echoing user input is always exactly one line."""
    return text.translate(_escapes(False))


def report_error(error: FlowctlError, as_json: bool) -> None:
    """One line on stderr (plus one per problem), or one JSON object with --json."""
    if as_json:
        body: dict[str, Any] = {"code": error.code, "exit": error.exit_code, "message": error.cli_message()}
        if error.problems:
            body["errors"] = [{"path": p.path, "message": p.message} for p in error.problems]
        # As JSON escapes, so the decoded message is unchanged and the line stays one.
        sys.stderr.write(json.dumps({"error": body}, ensure_ascii=False).translate(_escapes(True)) + "\n")
        return
    lines = [f"flowctl: error: {one_line(error.cli_message())}"] + [f"  {one_line(str(problem))}"
                                                              for problem in error.problems]
    sys.stderr.write("\n".join(lines) + "\n")


def report_warning(message: str, as_json: bool, *, notice: bool = False) -> None:
    """A change that stands but was not finished (IncompleteWrite): one line on
    stderr, or one JSON object `{"warning": {"code", "message"}}` with --json.
    A `notice` (a write re-applied after its push lost a race) is reported the
    same way as `flowctl: note: …` or `{"notice": {"code": "re-applied", …}}`."""
    if as_json:
        body = ({"notice": {"code": "re-applied", "message": message}} if notice else
                {"warning": {"code": "incomplete-write", "message": message}})
        sys.stderr.write(json.dumps(body, ensure_ascii=False).translate(_escapes(True)) + "\n")
    else:
        sys.stderr.write(f"flowctl: {'note' if notice else 'warning'}: {one_line(message)}\n")

"""Option types shared by several commands, and parsing of their values."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import BadInput
from .completion import complete_flow

FlowArgument = Annotated[str, typer.Argument(metavar="FLOW", help="The flow's key or id.", show_default=False,
                                             autocompletion=complete_flow)]
RowVersionOption = Annotated[
    int | None,
    typer.Option("--row-version", metavar="N", help="Fail with exit 4 unless the flow is at this rowVersion.",
                 show_default=False),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the essential value, for $(...) in scripts."),
]
ConfigOption = Annotated[
    str | None,
    typer.Option("--config", metavar="FILE|-", show_default=False,
                 help="Draft config: a JSON file, a .toml file, or - for JSON on stdin."),
]
NotesOption = Annotated[str, typer.Option("--notes", "-m", "--reason",
                                          help="Why: the version's release notes (a policy's rollback: "
                                               "its history line's). -m, --notes, --reason are one option.")]
SourceOption = Annotated[
    str | None,
    typer.Option("--source", metavar="FILE.aster|-", show_default=False,
                 help="A policy's Aster source text, from a file or - for stdin."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Check everything and show what would be written; write nothing."),
]


SigningKeyOption = Annotated[
    str | None,
    typer.Option("--signing-key", metavar="KEY", show_default=False,
                 help="Sign the release with this ssh key (a private key, or a .pub whose key is in "
                      "ssh-agent); default $FLOWCTL_SIGNING_KEY. Its principal is the actor."),
]


def signing_key(given: str | None) -> Path | None:
    """--signing-key, else $FLOWCTL_SIGNING_KEY (unset or empty: no key)."""
    import os

    if given == "":
        raise BadInput("--signing-key is empty", hint="give the path of an ssh key")
    chosen = given if given is not None else os.environ.get("FLOWCTL_SIGNING_KEY") or None
    return Path(chosen) if chosen else None


class Status(str, Enum):
    active = "active"
    draft = "draft"
    paused = "paused"
    archived = "archived"


class KindName(str, Enum):
    """The kinds of flow (flowctl.kinds.KINDS; a test keeps the two equal)."""

    decision_flow = "decision-flow"
    policy = "policy"
    workflow = "workflow"


class PausedReason(str, Enum):
    """Why a workflow is paused (flowctl.kinds.PAUSED_REASONS)."""

    manual = "manual"
    consecutive_failures = "consecutive_failures"
    error_rate = "error_rate"
    budget_exceeded = "budget_exceeded"
    dependency_unavailable = "dependency_unavailable"


KindOption = Annotated[KindName | None, typer.Option("--kind", show_default=False,
                                                     help="decision-flow, policy or workflow.")]


class ShowFormat(str, Enum):
    json = "json"
    toml = "toml"


def read_config(spec: str | None) -> Any:
    """The config named by --config, or None when not given."""
    if spec is None:
        return None
    from ..jsonio import read_document

    config, label = read_document(spec)
    if config is None:  # `null` must not read as "no --config given"
        raise BadInput(f"{label}: the config is null; a config is a JSON object")
    return config


def read_source(spec: str | None, config: str | None = None) -> str | None:
    """The text named by --source, or None when not given (stdin once only)."""
    if spec is None:
        return None
    if spec == "-" and config == "-":
        raise BadInput("--config - and --source - cannot both read stdin",
                       hint="give one of them as a file")
    from ..jsonio import read_text

    return read_text(spec, what="a policy source")[0]


# Far more versions than any flow has, and short enough for int() to read instantly.
_MAX_VERSION_DIGITS = 18


def parse_version(text: str, *, words: tuple[str, ...] = (), label: str = "--version",
                  more: tuple[str, ...] = ()) -> int | str:
    """`3` or `v3` → 3; one of `words` (active, latest, draft) as is; else exit 2.

    `label` names the value in the message (`--version`, or diff's FROM and TO);
    `more` lists further choices the caller handles itself, for the message.
    """
    if text in words:
        return text
    digits = text[1:] if text[:1] in ("v", "V") else text
    if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= _MAX_VERSION_DIGITS:
        if int(digits) >= 1:
            return int(digits)
    from ..jsonio import shown

    *first, last = ("N", "vN", *words, *more)
    raise BadInput(f"{label} {shown(text)} is not a version: use one of {', '.join(first)} or {last}")

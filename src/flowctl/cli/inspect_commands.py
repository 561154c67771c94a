"""Commands that compare and check: diff, verify."""

import sys
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import typer

from ..errors import BadInput, IntegrityError
from .app import commands
from .common import Settings, command, emit_json
from .completion import complete_flow, version_completer
from .options import FlowArgument, parse_version


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    unified = "unified"


_WORDS = ("draft", "active", "latest")  # the stored states a side of a diff can name


def _is_input(selector: str) -> bool:
    return selector == "-" or selector.startswith("@")


def _read_input(selector: str, head: Any) -> tuple[Any, str]:
    """A FROM/TO given as @FILE or - (stdin): (config, label). A file with the
    kind's text suffix (a policy's .aster) is its source text, over the draft."""
    from .. import kinds
    from ..jsonio import read_document, read_text

    spec = "-" if selector == "-" else selector[1:]
    kind = kinds.kind(head["kind"])
    if kind.source_field and spec.endswith(kind.suffix):
        text, _ = read_text(spec, what="a policy source")
        return {**head["draftConfig"], kind.source_field: text}, selector
    config, _ = read_document(spec)
    if not isinstance(config, dict):
        raise BadInput(f"{selector}: a config must be a JSON object")
    return config, "stdin" if selector == "-" else selector


@command(commands, "diff")
def diff(
    settings: Settings,
    flow: FlowArgument,
    from_: Annotated[str | None, typer.Argument(
        metavar="[FROM]", show_default=False, autocompletion=version_completer("draft", "active", "latest"),
        help="N, vN, draft, active, latest, @FILE or - (default: active).")] = None,
    to: Annotated[str | None, typer.Argument(
        metavar="[TO]", show_default=False, autocompletion=version_completer("draft", "active", "latest"),
        help="Same choices (default: draft).")] = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", help="text, json or unified.")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option(
        "--exit-code", help="Exit 1 when there are differences, 0 when none.")] = False,
) -> None:
    """Show what changes between two states of a flow, node by node.

    Default: active → draft, i.e. what the next publish would change.

    Example: flowctl diff credit-card-nba 3 draft --format json
    """
    from .. import diff as structural
    from .. import diff_text

    selectors = [from_ or "active", to or "draft"]
    if selectors.count("-") > 1:
        raise BadInput("only one side of a diff can be read from stdin (-)")
    stored = [parse_version(s, words=_WORDS, label=label, more=("@FILE", "-"))
              for s, label in zip(selectors, ("FROM", "TO"), strict=True) if not _is_input(s)]
    head, found = settings.flows().configs(flow, *stored)
    sides = iter(found)
    (old, old_label), (new, new_label) = [_read_input(s, head) if _is_input(s) else next(sides) for s in selectors]
    changes = structural.diff_configs(old, new)
    if settings.json or output_format == DiffFormat.json:
        emit_json(structural.to_json(old_label, new_label, changes))
    elif output_format == DiffFormat.unified:
        key = head["key"]
        def label(text: str) -> str:
            return text if text.startswith("@") or text == "stdin" else f"{key}@{text}"

        from ..kinds import kind

        sys.stdout.write(diff_text.unified(old, new, label(old_label), label(new_label),
                                           text_field=kind(head["kind"]).source_field))
    else:
        from .. import render

        render.diff_lines(diff_text.text_lines(changes), no_color=settings.no_color)
    if exit_code and changes:
        raise typer.Exit(1)


@command(commands, "verify")
def verify(
    settings: Settings,
    flow: Annotated[str | None, typer.Argument(
        metavar="[FLOW]", show_default=False, autocompletion=complete_flow,
        help="Check only this flow (default: every flow of the tenant).")] = None,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Do the fixes verify names: complete half-finished publishes, rebuild the index, "
                         "remove flowctl's stray temp files; then check.")] = False,
) -> None:
    """Check the store like `git fsck`: checksums, numbering, head, index, audit.

    Exit 0 when clean; 8 with one line per problem otherwise.

    Example: flowctl verify --repair
    """
    from .. import verify as checker

    flows = settings.flows()
    if repair:  # it writes: the role of `repair` (editor by default) beside verify's own
        flows.authorize("repair")
    key = flows.resolve(flow).dir.name if flow else None
    bar = _ProgressBar() if not settings.json and sys.stderr.isatty() else None
    try:
        keys, findings = checker.run(flows.store, flows.tenant, key, repair=repair,
                                     lock_timeout=flows.lock_timeout, progress=bar.start if bar else None)
    finally:
        if bar:
            bar.stop()
    notes = [finding for finding in findings if finding.note]
    findings = [finding for finding in findings if not finding.note]
    if settings.json:
        emit_json({"ok": not findings, "problems": [finding.as_json() for finding in findings],
                   **({"notes": [note.as_json() for note in notes]} if notes else {})})
    else:
        for finding in findings:
            print(f"{finding.path}: {finding.problem}")
        for note in notes:
            print(f"{note.path}: note: {note.problem}")
        if not findings:
            print(f"ok: {len(keys)} flow{'s' if len(keys) != 1 else ''} verified in tenant {flows.tenant!r}")
    if findings:
        count = f"{len(findings)} problem{'s' if len(findings) != 1 else ''} found"
        if any(finding.fix for finding in findings):
            raise IntegrityError(f"{count}: `flowctl verify --repair` fixes those it names; "
                                 "each other line says what to do")
        raise IntegrityError(f"{count}: each line names the file and what to do; verify again afterwards")


class _ProgressBar:
    """A rich progress bar on stderr while verify re-hashes a large store's snapshots."""

    SHOWN_FROM = 2000  # snapshots: below this, verify is done before a bar would help

    def __init__(self) -> None:
        self.progress: Any = None

    def start(self, total: int) -> Callable[[int], None] | None:
        if total < self.SHOWN_FROM:
            return None
        from rich.console import Console
        from rich.progress import Progress

        self.progress = Progress(console=Console(stderr=True), transient=True)
        self.progress.start()
        task = self.progress.add_task("verifying snapshots", total=total)
        return lambda done: self.progress.advance(task, done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()

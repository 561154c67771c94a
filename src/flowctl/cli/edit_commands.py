"""Editing a draft in the user's editor, like `kubectl edit`: edit."""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, Conflict, FlowctlError
from .app import commands
from .common import Settings, command, emit_json
from .options import FlowArgument, QuietOption

if TYPE_CHECKING:
    from .. import records

_FALLBACK_EDITOR = "vi"  # what git and kubectl run when neither variable is set


@command(commands, "edit")
def edit(settings: Settings, flow: FlowArgument, quiet: QuietOption = False) -> None:
    """Edit the flow's draft config in $VISUAL or $EDITOR; it is validated on save.

    Saving the file unchanged (or empty) changes nothing. An invalid edit is
    reported and kept in a file whose path is printed, so nothing typed is
    lost; fix it there and pass it to `flowctl update --config`. If someone
    else changed the flow meanwhile, the save fails with exit 4.

    A policy opens as its Aster source text (a .aster file), every other kind
    as its JSON config.

    Example: EDITOR="code --wait" flowctl edit credit-card-nba
    """
    from .. import jsonio, kinds

    flows = settings.flows()
    head = flows.get(flow)
    kind = kinds.kind(head["kind"])
    source = head["draftConfig"].get(kind.source_field) if kind.source_field else None
    as_text = isinstance(source, str)
    original = source if isinstance(source, str) else jsonio.dumps(head["draftConfig"])
    path = _draft_file(head["key"], original, kind.suffix if as_text else ".json")
    text = _run_editor(path, original)
    if text == original or not text.strip():
        path.unlink(missing_ok=True)
        _report(settings, quiet, head, "edit cancelled, no changes made", talk=True)
        return
    try:
        # The rowVersion read before editing: a change made meanwhile is a conflict, never overwritten.
        if as_text:
            new = settings.write(lambda f: f.update(head["key"], source_text=text, row_version=head["rowVersion"]),
                                 flows)
        else:
            config = jsonio.parse_document(text, str(path))
            new = settings.write(lambda f: f.update(head["key"], config=config, row_version=head["rowVersion"]),
                                 flows)
    except FlowctlError as exc:
        raise type(exc)(_not_saved(settings, flows, head, path, exc), exc.problems) from None
    path.unlink(missing_ok=True)
    if new["rowVersion"] == head["rowVersion"]:
        _report(settings, quiet, new, "the edit leaves the draft as it was: nothing written", talk=True)
    else:
        _report(settings, quiet, new, f"Updated {kind.noun} {new['key']}: rowVersion {new['rowVersion']}")


def _not_saved(settings: Settings, flows: Any, head: "records.Head", path: Path, exc: FlowctlError) -> str:
    """Why the edit was not saved, where it is kept, and commands that apply it to the flow as it is now.

    The rowVersion is re-read: the one the edit started from is stale after a
    conflict, so a command carrying it would always fail. When the flow has
    moved on, the edit was made on an older draft, so say so and show how to
    review what applying it would change before `--row-version` lets it through.
    """
    key = head["key"]
    try:
        current = flows.get(key)["rowVersion"]
    except FlowctlError:  # e.g. deleted meanwhile: there is nothing to apply the edit to
        return f"edit not saved: {exc.cli_message()}; your edit is kept in {path}"
    # The global options as given, so the commands reach the same store and tenant from anywhere.
    cli = "flowctl" + "".join(f" {option} {shlex.quote(value)}" for option, value
                              in (("--store", settings.store), ("--tenant", settings.tenant)) if value is not None)
    option = "--source" if path.suffix == ".aster" else "--config"
    apply = f"{cli} update {shlex.quote(key)} {option} {shlex.quote(str(path))} --row-version {current}"
    if current == head["rowVersion"]:
        return f"edit not saved: {exc.cli_message()}; your edit is kept in {path}: fix it and run `{apply}`"
    review = f"{cli} diff {shlex.quote(key)} draft {shlex.quote('@' + str(path))}"
    # A conflict's own message advises to re-read and retry, which would lose the edit: this replaces it.
    why = "" if isinstance(exc, Conflict) else f"{exc.cli_message()}; "
    return (f"edit not saved: {why}someone changed flow {key} meanwhile (rowVersion {head['rowVersion']} → "
            f"{current}); your edit is kept in {path}: see what applying it would change with `{review}`, "
            f"then apply it with `{apply}`")


def _draft_file(key: str, text: str, suffix: str) -> Path:
    """A new file in the temp directory named after the flow, holding `text`.

    It outlives a failed edit, so its name says what it is, and it is unique
    so an earlier kept edit is never overwritten.
    """
    fd, name = tempfile.mkstemp(prefix=f"flowctl-edit-{key[:64]}-", suffix=suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


def _run_editor(path: Path, original: str) -> str:
    """Open `path` in $VISUAL, else $EDITOR, else vi; return the saved text."""
    choice = os.environ.get("VISUAL") or os.environ.get("EDITOR") or _FALLBACK_EDITOR
    argv = shlex.split(choice)  # "code --wait", as git and kubectl allow
    if not argv or shutil.which(argv[0]) is None:
        path.unlink(missing_ok=True)
        raise BadInput(f"editor {choice!r} not found: set $VISUAL or $EDITOR (e.g. EDITOR=nano)")
    status = subprocess.run([*argv, str(path)], check=False).returncode
    from ..jsonio import read_text

    try:  # bytes as saved: no newline translation, and not UTF-8 or a NUL byte is refused (§8)
        text, _ = read_text(str(path), what="an edited draft")
    except BadInput as exc:
        raise BadInput(f"edit not saved: {exc.message}; your edit is kept in {path}") from None
    if status != 0:
        if text == original:
            path.unlink(missing_ok=True)
            raise BadInput(f"the editor exited with status {status}: nothing changed")
        raise BadInput(f"the editor exited with status {status}: nothing changed; your edit is kept in {path}")
    return text


def _report(settings: Settings, quiet: bool, head: "records.Head", message: str, talk: bool = False) -> None:
    """The head with --json, its rowVersion with -q, else `message` (on stderr when
    it only says that nothing happened, as kubectl does)."""
    if settings.json:
        emit_json(head)
    elif quiet:
        print(head["rowVersion"])
    elif talk:
        sys.stderr.write(message + "\n")
    else:
        print(message)

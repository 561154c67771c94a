"""Editing a draft in the user's editor, like `kubectl edit`: edit."""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BadInput, FlowctlError
from .app import commands
from .common import Settings, command, emit_json
from .options import FlowArgument, QuietOption

_FALLBACK_EDITOR = "vi"  # what git and kubectl run when neither variable is set


@command(commands, "edit")
def edit(settings: Settings, flow: FlowArgument, quiet: QuietOption = False) -> None:
    """Edit the flow's draft config in $VISUAL or $EDITOR; it is validated on save.

    Saving the file unchanged (or empty) changes nothing. An invalid edit is
    reported and kept in a file whose path is printed, so nothing typed is
    lost; fix it there and pass it to `flowctl update --config`. If someone
    else changed the flow meanwhile, the save fails with exit 4.

    Example: EDITOR="code --wait" flowctl edit credit-card-nba
    """
    from .. import jsonio

    flows = settings.flows()
    head = flows.get(flow)
    original = jsonio.dumps(head["draftConfig"])
    path = _draft_file(head["key"], original)
    text = _run_editor(path, original)
    if text == original or not text.strip():
        path.unlink(missing_ok=True)
        _report(settings, quiet, head, "edit cancelled, no changes made", talk=True)
        return
    try:
        config = jsonio.parse_document(text, str(path))
        # The rowVersion read before editing: a change made meanwhile is a conflict, never overwritten.
        new = flows.update(head["key"], config=config, row_version=head["rowVersion"])
    except FlowctlError as exc:
        retry = f"flowctl update {head['key']} --config {shlex.quote(str(path))} --row-version {head['rowVersion']}"
        raise type(exc)(f"edit not saved: {exc.message}; your edit is kept in {path}: fix it and run `{retry}`",
                        exc.problems) from None
    path.unlink(missing_ok=True)
    if new["rowVersion"] == head["rowVersion"]:
        _report(settings, quiet, new, "the edit leaves the draft as it was: nothing written", talk=True)
    else:
        _report(settings, quiet, new, f"Updated flow {new['key']}: rowVersion {new['rowVersion']}")


def _draft_file(key: str, text: str) -> Path:
    """A new file in the temp directory named after the flow, holding `text`.

    It outlives a failed edit, so its name says what it is, and it is unique
    so an earlier kept edit is never overwritten.
    """
    fd, name = tempfile.mkstemp(prefix=f"flowctl-edit-{key[:64]}-", suffix=".json")
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
    text = path.read_text(encoding="utf-8")
    if status != 0:
        if text == original:
            path.unlink(missing_ok=True)
            raise BadInput(f"the editor exited with status {status}: nothing changed")
        raise BadInput(f"the editor exited with status {status}: nothing changed; your edit is kept in {path}")
    return text


def _report(settings: Settings, quiet: bool, head: dict, message: str, talk: bool = False) -> None:
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

"""Human output with rich: tables and short sentences for a person to read.

Imported only when a person reads the output (never with --json), so the
read paths scripts use do not pay for rich. Stdout is data, stderr is talk.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import kinds
from .plain import version_label, when
from .records import Head, Snapshot, VersionEntry

_DIFF_STYLES = {"add": "green", "remove": "red", "change": "yellow", "move": "cyan", "summary": "bold"}


def console(no_color: bool = False) -> Console:
    """A console on stdout; plain text, not even bold, for --no-color, a
    non-empty NO_COLOR (no-color.org) or a pipe."""
    plain = no_color or bool(os.environ.get("NO_COLOR"))
    return Console(no_color=plain, color_system=None if plain else "auto", highlight=False, soft_wrap=True)


def source_label(source: dict[str, Any]) -> str:
    """`publish` or `rollback of v3`, as the history table shows it."""
    if source.get("action") == "rollback":
        return f"rollback of v{source.get('restoredVersion')}"
    return str(source.get("action", "?"))


def message(text: str, no_color: bool = False) -> None:
    console(no_color).print(Text(text))


def head(flow: Head, no_color: bool = False) -> None:
    """A flow's head as a two-column sheet, like `kubectl describe`."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("Key", flow["key"]),
        ("ID", flow["id"]),
        ("Tenant", flow["tenantId"]),
        ("Name", flow["name"]),
        ("Description", flow["description"] or "-"),
        ("Kind", flow["kind"]),
        ("Status", flow["status"] + (f" ({reason})" if (reason := dict(flow).get("pausedReason")) else "")),
        ("Auto assembly", "yes" if flow["autoAssembly"] else "no"),
        ("Active version", version_label(flow["activeVersion"])),
        ("Latest version", version_label(flow["latestVersion"])),
        ("Row version", str(flow["rowVersion"])),
        ("Created", f"{when(flow['createdAt'])} by {flow['createdBy']}"),
        ("Updated", f"{when(flow['updatedAt'])} by {flow['updatedBy']}"),
        ("Draft", _draft_label(flow)),
    ]
    for label, value in rows:
        table.add_row(label, Text(value))
    console(no_color).print(table)


def _draft_label(flow: Head) -> str:
    """A line on the draft: its size in the kind's terms."""
    draft = flow["draftConfig"]
    if flow["kind"] == "policy":
        source = draft.get("source")
        return f"{len(source.splitlines())} lines of Aster" if isinstance(source, str) else "no source"
    nodes = draft.get("nodes")
    if isinstance(nodes, (list, dict)):
        return f"{len(nodes)} nodes"
    return "fixed-stage (v1) config"


def flows(page: Any, no_color: bool = False) -> None:
    """One page of `list` as a table, with the cursor for the next page."""
    out = console(no_color)
    if not page.flows:
        out.print(Text("No flows." if not page.total else "No more flows."))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("KEY", "NAME", "KIND", "STATUS", "ACTIVE", "LATEST", "UPDATED"):
        table.add_column(column, overflow="fold", no_wrap=column in ("KIND", "UPDATED"))
    for flow in page.flows:
        table.add_row(
            flow["key"], Text(flow["name"]), flow["kind"], flow["status"], version_label(flow["activeVersion"]),
            version_label(flow["latestVersion"]), when(flow["updatedAt"]),
        )
    out.print(table)
    if page.next_cursor:
        out.print(Text(f"{len(page.flows)} of {page.total} shown; next page: --cursor {page.next_cursor}"))


def versions(flow: Head, entries: list[VersionEntry], no_color: bool = False) -> None:
    """The history table, like `helm history`, with who and where from."""
    out = console(no_color)
    if not entries:
        out.print(Text(f"{flow['key']} has no published versions yet: `flowctl publish {flow['key']}`"))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = kinds.kind(flow["kind"]).columns  # what the kind's summary has
    signed = any("signature" in entry for entry in entries)  # a store that signs, or a signed release
    # Everything but BY and NOTES stays on one line, so notes get the room in 80 columns.
    for column in ("VERSION", "PUBLISHED", "BY", "SOURCE", *(title for _, title in columns),
                   *(("SIGNED",) if signed else ()), "NOTES"):
        # VERSION and PUBLISHED stay on one line; the rest wrap at spaces, so 80 columns stay readable.
        table.add_column(column, overflow="fold", no_wrap=column in ("VERSION", "PUBLISHED"),
                         ratio=3 if column == "NOTES" else None)
    for entry in entries:
        active = entry["version"] == flow["activeVersion"]
        summary = entry["summary"]
        table.add_row(
            f"v{entry['version']}" + (" *" if active else ""),
            when(entry["publishedAt"]).removesuffix(" UTC"),
            Text(entry["publishedBy"]),
            source_label(entry["source"]),
            *(Text("-" if summary.get(field) is None else str(summary[field])) for field, _ in columns),
            *((Text(_signer(entry)),) if signed else ()),
            Text(entry["notes"] or ""),
            style="bold" if active else None,
        )
    out.print(table)
    out.print(Text(f"* active version (v{flow['activeVersion']}, status {flow['status']}); times in UTC"))


def _signer(entry: VersionEntry) -> str:
    """Who signed a version, or – for an unsigned one."""
    signature = dict(entry).get("signature")
    return str(signature.get("principal")) if isinstance(signature, dict) else "–"


def snapshot(snap: Snapshot, no_color: bool = False) -> None:
    """One version: its record, then its config as JSON."""
    out = console(no_color)
    out.print(Text(
        f"{snap['key']} v{snap['version']}  {source_label(snap['source'])}  "
        f"published {when(snap['publishedAt'])} by {snap['publishedBy']}"
    ))
    if snap["notes"]:
        out.print(Text(f"notes: {snap['notes']}"))
    signature = dict(snap).get("signature")
    if isinstance(signature, dict):
        out.print(Text(f"signed by {signature.get('principal')} with key {signature.get('keyFingerprint')}"))
    out.print(Text(f"sha256: {snap['configSha256']}"))
    out.print(Text(json.dumps(snap["configSnapshot"], indent=2, ensure_ascii=False)))


def diff_lines(lines: list[tuple[str, str]], no_color: bool = False) -> None:
    """A structural diff, coloured by kind of change on a terminal."""
    out = console(no_color)
    for kind, line in lines:
        out.print(Text(line, style=_DIFF_STYLES.get(kind, "")))


def history(flow: str, entries: list[dict[str, Any]], no_color: bool = False) -> None:
    """The audit log, newest first, like `git log --oneline` with who and when."""
    out = console(no_color)
    if not entries:
        out.print(Text(f"{flow} has no audit entries"))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("WHEN", "ACTOR", "ACTION", "ROW", "DETAILS"):
        table.add_column(column, overflow="fold", no_wrap=column in ("WHEN", "ROW"))
    for entry in entries:
        table.add_row(when(entry.get("at")), Text(str(entry.get("actor", "?"))), str(entry.get("action", "?")),
                      str(entry.get("rowVersion", "?")), Text(_audit_details(entry)))
    out.print(table)


def _audit_details(entry: dict[str, Any]) -> str:
    """`v6: Rollback to v3: ...`, `changed draftConfig, status`, or the notes."""
    parts = []
    if entry.get("version") is not None:
        parts.append(f"v{entry['version']}")
    elif entry.get("restoredVersion") is not None:  # a policy's rollback: which version is active again
        parts.append(f"v{entry.get('previousVersion')} → v{entry['restoredVersion']} active")
    if entry.get("changes"):
        parts.append("changed " + ", ".join(map(str, entry["changes"])))
    text = " ".join(parts)
    if entry.get("notes"):
        text = f"{text}: {entry['notes']}" if text else str(entry["notes"])
    return text or "-"

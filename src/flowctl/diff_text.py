"""The text views of a structural diff: grouped lines, a summary, unified.

`render.diff_lines` colours the `(kind, line)` pairs made here; this module
stays free of rich (and of anything outside the stdlib) because `diff` is a
command scripts run and pays start-up for every import (tests/test_startup.py).
The change list itself comes from `diff.diff_configs`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .diff import Change, Config, edge_index, edge_pair, node_index
from .jsonpointer import split

__all__ = ["summary_line", "text_lines", "unified"]

# Rendered values longer than this are cut with an ellipsis so a text line
# stays a line.
_MAX_SHOWN = 60

# Strings made only of these read unambiguously without quotes.
_WORD = re.compile(r"[\w.:@/+-]+")


def _word(text: str) -> str:
    """A string as shown: bare if it is a simple word, else JSON-quoted.

    Strings that would read as another JSON value (`true`, `null`, `5`) are
    quoted so `"5"` and `5` stay distinguishable.
    """
    if _WORD.fullmatch(text) and text not in ("true", "false", "null"):
        try:
            float(text)
        except ValueError:
            return text
    return json.dumps(text, ensure_ascii=False)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _show(value: Any, present: bool = True) -> str:
    """A value rendered compactly on one line; `(none)` for an absent side."""
    if not present:
        return "(none)"
    if isinstance(value, str):
        return _shorten(_word(value))
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return _shorten(text)


def _dotted(segments: list[str]) -> str:
    return ".".join(segments) if segments else "(root)"


def _node_title(node_id: str, node: Any) -> str:
    node_type = node.get("type") if isinstance(node, dict) else None
    title = _word(node_id)
    return f"{title} ({_word(node_type)})" if isinstance(node_type, str) else title


def _sides(change: Change) -> tuple[str, str]:
    return _show(change.get("old"), "old" in change), _show(change.get("new"), "new" in change)


class _Report:
    """Changes sorted into the groups the text view and summary use."""

    def __init__(self) -> None:  # a plain class: `diff` pays start-up, dataclasses cost ~3 ms
        self.node_lines: dict[str, list[tuple[str, str]]] = {}
        self.node_groups: dict[str, set[str]] = {}
        self.edge_lines: list[tuple[str, str]] = []
        self.edges_added = 0
        self.edges_removed = 0
        self.other_lines: list[tuple[str, str]] = []
        self.others = 0  # changes outside nodes and edges (a text's changed lines are one change)

    def node(self, node_id: str, group: str, kind: str, line: str) -> None:
        self.node_lines.setdefault(node_id, []).append((kind, line))
        self.node_groups.setdefault(node_id, set()).add(group)

    def edge(self, op: str, pair: tuple[str, str]) -> None:
        source, target = pair
        if op == "add":
            self.edges_added += 1
            self.edge_lines.append(("add", f"+ edge {_word(source)} → {_word(target)}"))
        else:
            self.edges_removed += 1
            self.edge_lines.append(("remove", f"- edge {_word(source)} → {_word(target)}"))


def _report(changes: list[Change]) -> _Report:
    report = _Report()
    for change in changes:
        op = change.get("op")
        try:
            segments = split(change.get("path"))
        except ValueError:
            segments = [str(change.get("path"))]
        value = change.get("new" if op == "add" else "old")
        sign = "+" if op == "add" else "-"
        if segments == ["nodes"] and op in ("add", "remove") and (listed := node_index(value)):
            # A whole node list appearing (first publish) or going reads
            # best node by node (the index keeps list order: ids are unique).
            for node_id, (_, node) in listed.items():
                report.node(node_id, "added" if op == "add" else "removed", op,
                            f"{sign} node {_node_title(node_id, node)}")
            continue
        if segments == ["edges"] and op in ("add", "remove") and (pairs := edge_index(value)):
            for pair in pairs:  # each pair once, in first-seen order
                report.edge(op, pair)
            continue
        if len(segments) == 2 and segments[0] == "nodes":
            node_id = segments[1]
            if op == "move":
                report.node(node_id, "moved", "move",
                            f"~ node {_word(node_id)} moved {_show(change.get('old'))} → {_show(change.get('new'))}")
                continue
            if op in ("add", "remove") and isinstance(value, dict) and value.get("id") == node_id:
                report.node(node_id, "added" if op == "add" else "removed", op,
                            f"{sign} node {_node_title(node_id, value)}")
                continue
        if len(segments) >= 3 and segments[0] == "nodes":
            # Caveat: when neither side's `nodes` is a node list the diff is
            # positional and the segment is an index; the line still reads
            # `node 3`, which names the node at that position.
            old, new = _sides(change)
            report.node(segments[1], "changed", "change",
                        f"~ node {_word(segments[1])}: {_dotted(segments[2:])} {old} → {new}")
            continue
        if len(segments) == 2 and segments[0] == "edges" and op in ("add", "remove") and (ends := edge_pair(value)):
            report.edge(op, ends)
            continue
        where = _dotted(segments)
        if op == "replace" and _multiline(change.get("old")) and _multiline(change.get("new")):
            # Source text (a policy's): the lines that changed, not two cut-off copies of the text.
            report.other_lines.extend(("change", f"~ {where} {line}") for line in _text_changes(
                change["old"], change["new"]))
            report.others += 1
            continue
        report.others += 1
        if op == "add":
            report.other_lines.append(("add", f"+ {where}: {_show(change.get('new'))}"))
        elif op == "remove":
            report.other_lines.append(("remove", f"- {where}: {_show(change.get('old'))}"))
        else:
            old, new = _sides(change)
            report.other_lines.append(("move" if op == "move" else "change", f"~ {where}: {old} → {new}"))
    return report


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


_MAX_TEXT_LINES = 20  # changed lines shown of one text value; `--format unified` shows them all


def _text_changes(old: str, new: str) -> list[str]:
    """`line N: OLD → NEW`, `line N added: …`, `line N removed: …` for each line
    that differs between two texts (difflib's matching, new-side line numbers)."""
    from difflib import SequenceMatcher

    a, b = old.splitlines(), new.splitlines()
    out: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            for k in range(i2 - i1):
                if tag == "replace" and j1 + k < j2:
                    out.append(f"line {j1 + k + 1}: {_show(a[i1 + k])} → {_show(b[j1 + k])}")
                else:
                    out.append(f"line {i1 + k + 1} removed: {_show(a[i1 + k])}")
        if tag in ("replace", "insert"):
            out.extend(f"line {j + 1} added: {_show(b[j])}" for j in range(j1 + max(0, i2 - i1), j2))
    if len(out) > _MAX_TEXT_LINES:
        out = out[:_MAX_TEXT_LINES] + [f"… and {len(out) - _MAX_TEXT_LINES} more lines changed (see --format unified)"]
    return out


def _count(n: int, noun: str, verb: str = "") -> str:
    text = f"{n} {noun}{'' if n == 1 else 's'}"
    return f"{text} {verb}" if verb else text


def _summary(report: _Report) -> str:
    groups = list(report.node_groups.values())
    counts = [
        (sum("added" in g for g in groups), "node", "added"),
        (sum("removed" in g for g in groups), "node", "removed"),
        (sum("changed" in g for g in groups), "node", "changed"),
        (sum("moved" in g for g in groups), "node", "moved"),
        (report.edges_added, "edge", "added"),
        (report.edges_removed, "edge", "removed"),
        (report.others, "other change", ""),
    ]
    total = sum(n for n, _, _ in counts)
    if not total:
        return "no changes"
    parts = ", ".join(_count(n, noun, verb) for n, noun, verb in counts if n)
    return f"{_count(total, 'change')}: {parts}"


def summary_line(changes: list[Change]) -> str:
    """One line such as `3 changes: 1 node added, 1 node changed, 1 edge removed`.

    Counts groups, not entries: a node with several field changes is one
    node changed; a node both moved and changed counts in both; edges and
    other changes count per entry. `no changes` for an empty list.
    """
    return _summary(_report(changes))


def text_lines(changes: list[Change]) -> list[tuple[str, str]]:
    """The changes as `(kind, line)` pairs for the text view.

    kind is one of add, remove, change, move, summary. Lines come grouped by
    node (in the order the changes first name each node), then edges, then
    other changes; the last pair is the summary line.
    """
    report = _report(changes)
    lines = [line for node_lines in report.node_lines.values() for line in node_lines]
    lines += report.edge_lines
    lines += report.other_lines
    lines.append(("summary", _summary(report)))
    return lines


# ---------------------------------------------------------------------------
# Unified
# ---------------------------------------------------------------------------


def _canonical(config: Config | None, text_field: str | None = None) -> str:
    config = {} if config is None else config
    text = config.get(text_field) if text_field else None
    if not isinstance(text, str):
        return json.dumps(config, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    # A kind whose config is source text (a policy): its lines, then the other fields.
    rest = {key: value for key, value in config.items() if key != text_field}
    lines = text if text.endswith("\n") else text + "\n"
    return lines + ("\n" + json.dumps(rest, sort_keys=True, indent=2, ensure_ascii=False) + "\n" if rest else "")


def unified(old: Config | None, new: Config | None, from_label: str, to_label: str,
            text_field: str | None = None) -> str:
    """A unified diff of the canonical pretty JSON of both configs, or, for a
    kind whose config is source text (`text_field`, a policy's `source`), of
    that text's lines followed by the other fields.

    Labels are used as-is for the `---`/`+++` headers (e.g.
    `credit-card-nba@v3`, `credit-card-nba@draft`). Returns "" when the two
    texts are equal. Being textual, it shows what the structural diff
    ignores by design (node order with edges, edge order, `1` vs `1.0`).
    """
    from difflib import unified_diff  # only this view needs it

    a, b = _canonical(old, text_field), _canonical(new, text_field)
    if a == b:
        return ""
    return "".join(
        unified_diff(
            a.splitlines(keepends=True),
            b.splitlines(keepends=True),
            fromfile=from_label,
            tofile=to_label,
        )
    )

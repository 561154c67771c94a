"""`list`'s order and its keyset pagination with an opaque cursor.

Flows are ordered by status (active, draft, paused, archived), then
updatedAt newest first, then key; a cursor is the position of the last
flow of a page, so a page never repeats or skips a flow when others are
created meanwhile (keyset, not offset, pagination).
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from . import records
from .errors import BadInput
from .records import Head


class Page(NamedTuple):
    """One page of `list`: the flows, and how to get the next page."""

    flows: list[Head]
    total: int
    limit: int
    next_cursor: str | None = None


def page(heads: list[Head], limit: int, cursor: str | None) -> Page:
    """The page of `heads` (already filtered) after `cursor`, at most `limit` long."""
    if limit < 1:
        raise BadInput(f"a page holds at least 1 flow (limit {limit})", hint="give --limit N with N >= 1")
    after = _decode_cursor(cursor) if cursor else None
    ordered = sorted(heads, key=_list_order)
    remaining = [head for head in ordered if after is None or _list_order(head) > after]
    shown = remaining[:limit]
    more = len(remaining) > limit
    return Page(
        flows=shown,
        total=len(ordered),
        limit=limit,
        next_cursor=_encode_cursor(_list_order(shown[-1])) if more and shown else None,
    )


def _list_order(head: Head) -> tuple[int, int, str]:
    """Sort key of `list`: status rank, updatedAt newest first, key."""
    stamp = int(re.sub(r"\D", "", head["updatedAt"]) or 0)
    return (records.STATUSES.index(head["status"]), -stamp, head["key"])


def _encode_cursor(position: tuple[int, int, str]) -> str:
    import base64

    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int, str]:
    import base64
    import binascii

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        rank, stamp, key = json.loads(raw)
        if not (isinstance(rank, int) and isinstance(stamp, int) and isinstance(key, str)):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise BadInput(f"cursor {cursor[:40]!r} is not a cursor from a previous page of `flowctl list`",
                       hint="start without --cursor") from None
    return (rank, stamp, key)

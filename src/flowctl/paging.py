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
    check_limit(limit)
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


Position = tuple[int, int, str]  # status rank, -updatedAt, key: list's sort key


def stamp(updated_at: str) -> int:
    """updatedAt as a number (its digits), newest largest."""
    return int(re.sub(r"\D", "", updated_at) or 0)


def position(status: str, updated_at: int, key: str) -> Position:
    """Where a flow stands in `list`: status rank, updatedAt newest first, key."""
    return (records.STATUSES.index(status), -updated_at, key)


def _list_order(head: Head) -> Position:
    """Sort key of `list`: status rank, updatedAt newest first, key."""
    return position(head["status"], stamp(head["updatedAt"]), head["key"])


def page_keys(positions: list[Position], limit: int, cursor: str | None) -> tuple[list[str], int, str | None]:
    """(the keys of the page after `cursor`, at most `limit`; the total; the next
    cursor): the same page as `page`, picked by a heap, O(flows log page), not a sort."""
    import heapq

    check_limit(limit)
    after = _decode_cursor(cursor) if cursor else None
    remaining = positions if after is None else [p for p in positions if p > after]
    shown = heapq.nsmallest(limit + 1, remaining)
    more = len(shown) > limit
    shown = shown[:limit]
    return ([p[2] for p in shown], len(positions),
            _encode_cursor(shown[-1]) if more and shown else None)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise BadInput(f"a page holds at least 1 flow (limit {limit})", hint="give --limit N with N >= 1")


def check_cursor(cursor: str | None) -> None:
    """BadInput for a cursor `list` did not make, before any flow is read."""
    if cursor:
        _decode_cursor(cursor)


def _encode_cursor(where: Position) -> str:
    import base64

    raw = json.dumps(list(where), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> Position:
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

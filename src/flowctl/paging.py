"""`list`'s order and its keyset pagination with an opaque cursor.

Flows are ordered by status (active, draft, paused, archived), then
updatedAt newest first, then key; a cursor is the position of the last
flow of a page, so a page never repeats or skips a flow when others are
created meanwhile (keyset, not offset, pagination).
"""

from __future__ import annotations

import binascii
import bisect
import json
import re
from collections.abc import Callable
from typing import NamedTuple

from .errors import BadInput
from .records import Head


class Page(NamedTuple):
    """One page of `list`: the flows, and how to get the next page."""

    flows: list[Head]
    total: int
    limit: int
    next_cursor: str | None = None


Position = tuple[int, int, str]  # status rank, -updatedAt, key: list's sort key


def stamp(updated_at: str) -> int:
    """updatedAt as a number (its digits), newest largest."""
    return int(re.sub(r"\D", "", updated_at) or 0)


def page_range(count: int, position_at: Callable[[int], Position], limit: int,
               cursor: str | None) -> tuple[range, str | None]:
    """(the indices of the page after `cursor`, at most `limit`; the next cursor)
    of `count` flows already in list order, `position_at(i)` the i-th's position:
    a binary search for the cursor, then the page: O(page + log flows)."""
    check_limit(limit)
    start = 0 if not cursor else bisect.bisect_right(range(count), _decode_cursor(cursor), key=position_at)
    stop = min(start + limit, count)
    more = stop < count
    return range(start, stop), (_encode_cursor(position_at(stop - 1)) if more and stop > start else None)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise BadInput(f"a page holds at least 1 flow (limit {limit})", hint="give --limit N with N >= 1")


def check_cursor(cursor: str | None) -> None:
    """BadInput for a cursor `list` did not make, before any flow is read."""
    if cursor:
        _decode_cursor(cursor)


# URL-safe base64 without padding, as base64.urlsafe_b64encode spells it, from
# binascii directly: importing base64 (and struct) costs every paged list ~1 ms.
_TO_URLSAFE = str.maketrans("+/", "-_")
_FROM_URLSAFE = str.maketrans("-_", "+/")


def _encode_cursor(where: Position) -> str:
    raw = json.dumps(list(where), separators=(",", ":")).encode()
    return binascii.b2a_base64(raw, newline=False).decode().translate(_TO_URLSAFE).rstrip("=")


def _decode_cursor(cursor: str) -> Position:
    try:
        raw = binascii.a2b_base64((cursor + "=" * (-len(cursor) % 4)).translate(_FROM_URLSAFE))
        rank, stamp, key = json.loads(raw)
        if not (isinstance(rank, int) and isinstance(stamp, int) and isinstance(key, str)):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise BadInput(f"cursor {cursor[:40]!r} is not a cursor from a previous page of `flowctl list`",
                       hint="start without --cursor") from None
    return (rank, stamp, key)

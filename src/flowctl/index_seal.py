"""A local proof that the first lines of a flow's version index are sound, so
that `versions` need not parse 10,000 lines again to know it may print them.

`versions --json` prints the index's own lines, spliced; first it must know
that each is a sound entry of versions 1, 2, … (else it rebuilds them from
the snapshots). Parsing every line is what a long history costs (10,000
lines: about 50 ms of a process that otherwise costs 120). Whether a line is
sound depends only on its bytes and its place, so once lines 1..N are found
sound, the sha256 of the bytes that hold them proves it again: an index that
still starts with those bytes still starts with those lines. The proof is the
content, not a stat, so no git checkout, copy, clock or same-size rewrite can
fool it; a publish, which appends, leaves it true for the lines it had, and
only the new lines are parsed.

Local state like the head cache: `flows/<tenant>/.cache/<key>.versions.lock`
(git-ignored by the store's `*.lock` line), one line `flowctl-index-seal 1
LINES BYTES SHA256`, written atomically by the read that found more lines
sound; a missing, damaged or foreign one vouches for nothing, and one that
cannot be written costs only the next parse. Stdlib only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from .store import write_cache_file

_MAGIC = b"flowctl-index-seal 1"
_MAX_BYTES = 256  # the one line; anything longer is not a seal


class Sealed(NamedTuple):
    lines: int  # versions 1..lines are sound…
    end: int  # …and held by the index's first `end` bytes


NOTHING = Sealed(0, 0)


def path_of(index: Path) -> Path:
    """The seal of the index `flows/<tenant>/<key>/versions.jsonl`."""
    flow_dir = index.parent
    return flow_dir.parent / ".cache" / f"{flow_dir.name}.versions.lock"


def vouched(index: Path, raw: bytes) -> Sealed:
    """What the seal proves of `raw`, the index's bytes: NOTHING unless `raw`
    starts with exactly the bytes it was made of."""
    try:
        fd = os.open(path_of(index), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fields = os.read(fd, _MAX_BYTES).split(b" ")
        finally:
            os.close(fd)
        if len(fields) != 5 or b" ".join(fields[:2]) != _MAGIC:
            return NOTHING
        sealed = Sealed(int(fields[2]), int(fields[3]))
    except (OSError, ValueError):
        return NOTHING
    if not 0 < sealed.end <= len(raw) or sealed.lines < 1:
        return NOTHING
    return sealed if hashlib.sha256(raw[:sealed.end]).hexdigest().encode() == fields[4].strip() else NOTHING


def write(index: Path, held: bytes, lines: int) -> None:
    """Seal versions 1..`lines` as held by `held` (the index's first bytes).
    A failure (read-only store, full disk) is ignored: it is only a cache."""
    write_cache_file(path_of(index), b"%s %d %d %s\n" % (_MAGIC, lines, len(held),
                                                          hashlib.sha256(held).hexdigest().encode()))


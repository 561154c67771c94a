"""RFC 6901 JSON Pointers, and how flowctl spells an edge in one.

`diff` writes pointers and `update --set/--unset` reads them (docs/contract.md
§4.5), so both take their escaping from here and a path printed by one is
always understood by the other. It imports nothing: `diff` pays start-up
for every module it loads.
"""

from __future__ import annotations

__all__ = ["edge_segment", "escape", "join", "split", "unescape"]


def escape(segment: str) -> str:
    """Escape one reference token (RFC 6901 §3): `~` as `~0`, `/` as `~1`."""
    # `~` first, or the `~` introduced by `~1` would be escaped again.
    return segment.replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    """Undo `escape` (RFC 6901 §4 order: `~1` before `~0`)."""
    return segment.replace("~1", "/").replace("~0", "~")


def join(base: str, segment: str | int) -> str:
    """The pointer `base` extended by one token (a key, or a list index)."""
    return f"{base}/{escape(str(segment))}"


def split(path: object) -> list[str]:
    """A pointer's unescaped reference tokens; `""` (the root) has none.

    Raises ValueError for anything else: a non-empty string not starting
    with `/`, or not a string at all (change lists are plain dicts that may
    come from a file, so `path` is taken as whatever a change holds).
    """
    if not isinstance(path, str):
        raise ValueError(f"change path must be a string, not {type(path).__name__}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {path!r}")
    return [unescape(s) for s in path[1:].split("/")]


def edge_segment(source: str, target: str) -> str:
    """The token naming the edge `source` → `target` below `/edges`.

    Not part of RFC 6901: flowctl's convention, escaped like any token when
    joined. `a->b->c` cannot say which arrow splits it, so readers match
    the whole token against existing edges rather than parse it.
    """
    return f"{source}->{target}"

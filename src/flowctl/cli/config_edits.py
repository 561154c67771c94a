"""`--set POINTER=JSON` and `--unset POINTER`, kept in command-line order.

Click hands a command each repeatable option as its own list, which loses
how `--set` and `--unset` interleave, and `--unset /a --set /a/b=1` means
something else than the reverse. So `OrderedEditsCommand` notes, as the
parser meets them, every --set and --unset value in order, and the --set
option's callback turns that whole sequence into core edits; the --unset
option's callback then contributes nothing. A command that uses the options
without the class still works, with every --set before every --unset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from ..pointers import Edit

_GIVEN = "flowctl.edits_given"
_SET, _UNSET = "set_edits", "unset_edits"  # the parameter names of commands that use these options


# Callbacks return `Any`: typer resolves their annotations at run time, and
# `Edit` is imported only when an edit is parsed.
def _set_callback(ctx: typer.Context, value: list[str] | None) -> Any:
    from ..pointers import parse_set, parse_unset

    if ctx.resilient_parsing:  # shell completion: parse nothing, fail never
        return None
    given = ctx.meta.get(_GIVEN)
    if given is None:
        return [parse_set(text) for text in value or ()]
    return [parse_set(text) if name == _SET else parse_unset(text) for name, text in given]


def _unset_callback(ctx: typer.Context, value: list[str] | None) -> Any:
    from ..pointers import parse_unset

    if ctx.resilient_parsing or _GIVEN in ctx.meta:
        return None  # in order among the --set edits already
    return [parse_unset(text) for text in value or ()]


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="POINTER=JSON", show_default=False, callback=_set_callback,
                 help="Set a draft value; the value is JSON. Paths as `diff --format json` prints them: "
                      "node segments are ids, '-' appends. Repeatable."),
]
UnsetOption = Annotated[
    list[str] | None,
    typer.Option("--unset", metavar="POINTER", show_default=False, callback=_unset_callback,
                 help="Remove a draft value. Repeatable; --set and --unset apply in the order given."),
]


class OrderedEditsCommand(TyperCommand):
    """A command that remembers how its --set and --unset values interleave."""

    def make_parser(self, ctx: Any) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args)
            taken = {_SET: 0, _UNSET: 0}
            given = []
            for param in order:  # one entry per occurrence, in command-line order
                if param.name in taken:
                    given.append((param.name, opts[param.name][taken[param.name]]))
                    taken[param.name] += 1
            ctx.meta[_GIVEN] = given
            return opts, rest, order

        parser.parse_args = parse_args  # type: ignore[method-assign]  # click has no hook for the order
        return parser


def edits(set_edits: Sequence[object] | None, unset_edits: Sequence[object] | None) -> list[Edit]:
    """The edits of both options, in order (see the module docstring).

    The parameters are typed `list[str]` for typer, which parses the raw
    strings by that annotation; the callbacks have already turned them into
    Edits, which is what arrives here."""
    from ..pointers import Edit

    found = [*(set_edits or ()), *(unset_edits or ())]
    if not all(isinstance(edit, Edit) for edit in found):
        raise TypeError("--set/--unset values reached a command without their callbacks")
    return cast("list[Edit]", found)

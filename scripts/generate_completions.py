#!/usr/bin/env python3
"""Write completions/ (bash, zsh, fish) from the Typer app; `--check` fails on drift.

    python scripts/generate_completions.py            # regenerate completions/
    python scripts/generate_completions.py --check    # exit 1 if they are out of date

The scripts are what `_FLOWCTL_COMPLETE=source_<shell> flowctl` prints: thin
shims that call flowctl back on every TAB, so the values offered (flow keys,
version numbers, choices) always come from the installed flowctl and the
current store. tests/test_ecosystem_completion.py runs `--check`'s logic.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
# Shell -> file name where that shell looks for it (zsh: `_flowctl` on $fpath).
FILES = {"bash": "flowctl.bash", "zsh": "_flowctl", "fish": "flowctl.fish"}


def script(shell: str) -> str:
    """The completion script for `shell`, as flowctl prints it, tidied for a file."""
    from flowctl.cli import app

    result = CliRunner().invoke(app, [], prog_name="flowctl", env={"_FLOWCTL_COMPLETE": f"source_{shell}"})
    if result.exit_code != 0 or not result.stdout.strip():
        raise SystemExit(f"no {shell} completion script from flowctl (exit {result.exit_code}): {result.output}")
    # zsh reads `#compdef` only on a file's first line; one trailing newline, as every file here.
    return result.stdout.strip("\n") + "\n"


def generate(directory: Path) -> dict[Path, bytes]:
    """Write every script into `directory`; return what was written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for shell, name in FILES.items():
        path = directory / name
        data = script(shell).encode("utf-8")
        path.write_bytes(data)
        written[path] = data
    return written


def stale(directory: Path) -> list[str]:
    """The files of `directory` that differ from what would be generated now."""
    return [name for shell, name in FILES.items()
            if not (directory / name).is_file() or (directory / name).read_bytes() != script(shell).encode("utf-8")]


def main(argv: list[str]) -> int:
    target = REPO / "completions"
    if argv[1:] == ["--check"]:
        drifted = stale(target)
        for name in drifted:
            print(f"completions/{name} is out of date: run python scripts/generate_completions.py", file=sys.stderr)
        return 1 if drifted else 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    for path in generate(target):
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

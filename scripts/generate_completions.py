#!/usr/bin/env python3
"""Write completions/ (bash, zsh, fish) from the Typer app; `--check` fails on drift.

    python scripts/generate_completions.py            # regenerate completions/
    python scripts/generate_completions.py --check    # exit 1 if they are out of date

The scripts are what `_FLOWCTL_COMPLETE=source_<shell> flowctl` prints: thin
shims that call flowctl back on every TAB, so the values offered (flow keys,
version numbers, choices) always come from the installed flowctl and the
current store. One thing is changed (`fixes`): Typer's scripts complete file
names whenever flowctl offers nothing, so outside a store `flowctl versions
<TAB>` offered the files of the current directory. These ask flowctl to say
when a FLOW or version has nothing to offer (completion.NOTHING), then offer
nothing there, and keep file names for the values flowctl does not complete
(`--config FILE`, `import FILE`, `init DIR`, diff's `@FILE`).
tests/test_completion.py runs `--check`'s logic and the bash script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
# Shell -> file name where that shell looks for it (zsh: `_flowctl` on $fpath).
FILES = {"bash": "flowctl.bash", "zsh": "_flowctl", "fish": "flowctl.fish"}


def fixes(shell: str) -> list[tuple[str, str]]:
    """(text of Typer's script, what replaces it) for `shell`."""
    from flowctl.cli.completion import ASKS_FOR_NOTHING, NOTHING

    ask = f"{ASKS_FOR_NOTHING}=1 _FLOWCTL_COMPLETE=complete_{shell}"
    if shell == "bash":
        return [
            ("_FLOWCTL_COMPLETE=complete_bash", ask),
            ("    COMPREPLY=( $(", """\
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    # diff's @FILE: bash splits it into `@` and FILE (COMP_WORDBREAKS) yet replaces both on TAB
    if [[ $cur == @ || $prev == @ ]]; then
        [[ $cur == @ ]] && cur=
        COMPREPLY=( $(compgen -P @ -f -- "$cur") )
        return 0
    fi
    COMPREPLY=( $("""),
            ("    return 0\n}", f"""\
    if [[ ${{COMPREPLY[*]}} == *{NOTHING} ]]; then
        COMPREPLY=()  # a FLOW or version with nothing to offer, e.g. outside a store
    elif (( ${{#COMPREPLY[@]}} == 0 )); then
        # a value flowctl does not complete: --config FILE, import FILE, init DIR
        COMPREPLY=( $(compgen -f -- "$cur") )
        compopt -o filenames 2>/dev/null  # quoted, and / after a directory (works from a TAB only)
    fi
    return 0
}}"""),
            # No `-o default`: it would complete file names wherever the function offers none.
            ("complete -o default -F", "complete -F"),
        ]
    if shell == "zsh":
        return [
            ("  eval $(env _TYPER_COMPLETE_ARGS", "  local reply=$(env _TYPER_COMPLETE_ARGS"),
            ("_FLOWCTL_COMPLETE=complete_zsh", ask),
            # flowctl answers silence with `_files`; NOTHING means offer nothing instead.
            (" flowctl)\n}", f"""\
 flowctl)
  [[ $reply == *{NOTHING}* ]] && return 1  # a FLOW or version with nothing to offer
  eval ${{=reply}}
}}"""),
        ]
    # fish: is-args succeeds on NOTHING, so the --no-files rule applies; get-args drops it.
    return [
        ("_FLOWCTL_COMPLETE=complete_fish", ask),
        ("(commandline -cp) flowctl)", f"(commandline -cp) flowctl | string match --invert -- '*{NOTHING}')"),
    ]


def script(shell: str) -> str:
    """The completion script for `shell`, as flowctl prints it with `fixes` applied, tidied for a file."""
    from flowctl.cli import app

    result = CliRunner().invoke(app, [], prog_name="flowctl", env={"_FLOWCTL_COMPLETE": f"source_{shell}"})
    if result.exit_code != 0 or not result.stdout.strip():
        raise SystemExit(f"no {shell} completion script from flowctl (exit {result.exit_code}): {result.output}")
    text = result.stdout
    for old, new in fixes(shell):
        if old not in text:  # Typer changed its script: the fix must be redone, not silently skipped
            raise SystemExit(f"the {shell} script from Typer no longer contains {old!r}: update fixes()")
        text = text.replace(old, new)
    # zsh reads `#compdef` only on a file's first line; one trailing newline, as every file here.
    return text.strip("\n") + "\n"


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

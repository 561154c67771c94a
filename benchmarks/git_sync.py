"""What git sync costs: a publish without git, with [git] commit, with [git]
push to a local bare remote, and 8 clones publishing one flow at once.

    python benchmarks/git_sync.py              # ~2 minutes on 2 cores
    python benchmarks/git_sync.py --quick      # 3 publishes per case, 4 writers x 5

Stdlib only; runs the installed `flowctl` (next to this Python) as whole
processes against stores it builds in a temp directory. Prints medians per
publish, the contended run's wall time, and how many pushes lost the race
(each one a re-apply: fetch, move to the remote tip, run the publish again).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWCTL = str(Path(sys.executable).with_name("flowctl"))
CONFIG = json.dumps({"version": 2, "nodes": [
    {"id": "source", "type": "candidate_source", "config": {}},
    {"id": "score", "type": "score", "config": {"method": "propensity"}},
    {"id": "rank", "type": "rank", "config": {"topN": 5}},
    {"id": "output", "type": "output", "config": {}},
]})
WRITER = """
import json, subprocess, sys
flowctl, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
reapplied = 0
for i in range(count):
    done = subprocess.run([flowctl, "publish", "f", "-m", f"{name} #{i}", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    reapplied += sum('"re-applied"' in line for line in done.stderr.splitlines())
print(reapplied)
"""


def _env(root: Path) -> dict[str, str]:
    config = root / "gitconfig"
    config.write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n[init]\n\tdefaultBranch = main\n",
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "FLOWCTL_")) and k != "SOURCE_DATE_EPOCH"}
    return {**env, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "FLOWCTL_ACTOR": "bench"}


def _run(cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(args, cwd=cwd, env=env, input=stdin, text=True, check=True, capture_output=True)


def _store(root: Path, env: dict[str, str], name: str, git_table: str | None) -> Path:
    """A store with flow f: plain (git_table None), or a clone of a fresh bare remote."""
    if git_table is None:
        path = root / name
        path.mkdir()
        _run(path, env, FLOWCTL, "init", ".")
    else:
        bare = root / f"{name}.git"
        _run(root, env, "git", "init", "-q", "--bare", str(bare))
        path = root / name
        _run(root, env, "git", "clone", "-q", str(bare), str(path))
        _run(path, env, FLOWCTL, "init", ".")
        with (path / "flowctl.toml").open("a", encoding="utf-8") as toml:
            toml.write(f"\n[git]\n{git_table}")
        _run(path, env, "git", "add", "-A")
        _run(path, env, "git", "commit", "-q", "-m", "store")
        _run(path, env, "git", "push", "-q", "origin", "main")
    _run(path, env, FLOWCTL, "create", "f", "--name", "F", "--config", "-", stdin=CONFIG)
    return path


def _publish_times(path: Path, env: dict[str, str], count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        _run(path, env, FLOWCTL, "publish", "f")
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 publishes per case, 4 writers x 5")
    args = parser.parse_args()
    count, writers, each = (3, 4, 5) if args.quick else (15, 8, 20)
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        env = _env(root)
        cases = {"no git": None, "[git] commit": "commit = true\n", "[git] push (local bare remote)":
                 'commit = true\npush = "origin"\n'}
        medians = {}
        for n, (label, table) in enumerate(cases.items()):
            path = _store(root, env, f"case{n}", table)
            medians[label] = statistics.median(_publish_times(path, env, count)) * 1000
        _store(root, env, "contended", 'commit = true\npush = "origin"\nretries = 500\n')
        clones = []
        for n in range(writers):
            clone = root / f"w{n}"
            _run(root, env, "git", "clone", "-q", str(root / "contended.git"), str(clone))
            clones.append(clone)
        script = root / "writer.py"
        script.write_text(WRITER, encoding="utf-8")
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, str(script), FLOWCTL, f"w{n}", str(each)], cwd=clone, env=env,
                                  stdout=subprocess.PIPE, text=True) for n, clone in enumerate(clones)]
        reapplied = sum(int(proc.communicate()[0]) for proc in procs)
        wall = time.perf_counter() - started
        assert all(proc.returncode == 0 for proc in procs)
        check = root / "check"
        _run(root, env, "git", "clone", "-q", str(root / "contended.git"), str(check))
        latest = json.loads(subprocess.run([FLOWCTL, "show", "f", "--json"], cwd=check, env=env, text=True,
                                           capture_output=True, check=True).stdout)["latestVersion"]
        _run(check, env, FLOWCTL, "verify")
    print(f"{'case':40} {'median ms per publish':>22}")
    for label, value in medians.items():
        print(f"{label:40} {value:22.0f}")
    total = writers * each
    print(f"\n{writers} clones x {each} publishes of one flow, at once, pushing to one local bare remote:")
    print(f"  versions on the remote: {latest} (expected {total}); verify: ok")
    print(f"  wall time {wall:.1f} s = {wall / total * 1000:.0f} ms per landed publish; "
          f"{reapplied} publishes re-applied after a lost race ({reapplied / total:.2f} per publish)")
    return 0 if latest == total else 1


if __name__ == "__main__":
    sys.exit(main())

"""A real bare git remote on disk and clones of it, each holding one store,
driven by the installed `flowctl` in real processes: what many machines
sharing one remote look like, inside tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FLOWCTL = str(Path(sys.executable).with_name("flowctl"))


def git_env(home: Path) -> dict[str, str]:
    """An environment whose git reads only our own config (name, email, main)."""
    config = home / "gitconfig"
    if not config.exists():
        config.write_text("[user]\n\tname = Test Runner\n\temail = runner@example.com\n"
                          "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n", encoding="utf-8")
    # Real clocks, as on many machines: with SOURCE_DATE_EPOCH two clones doing the same
    # thing would write byte-identical commits, which git rightly takes as one.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("GIT_", "FLOWCTL_")) and key != "SOURCE_DATE_EPOCH"}
    return {**env, "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "FLOWCTL_ACTOR": "tester"}


def write_hook(hooks: Path, name: str, script: str) -> Path:
    """An executable git hook `name` in `hooks`, running `script` under sh."""
    hook = hooks / name
    hook.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    hook.chmod(0o755)
    return hook


class Clone:
    """One clone of the remote, its store at `path` (the clone's top)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = path, env

    def git(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["git", *args], cwd=self.path, env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
        return done.stdout.strip()

    def flowctl(self, *args: str, stdin: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FLOWCTL, *args], cwd=self.path, env={**self.env, **(env or {})}, input=stdin,
                              capture_output=True, text=True, timeout=600)

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        done = self.flowctl(*args, **kwargs)
        assert done.returncode == 0, f"flowctl {' '.join(args)} -> {done.returncode}: {done.stderr}{done.stdout}"
        return done

    def hook(self, name: str, script: str) -> Path:
        """A local hook of this clone (pre-commit, pre-push, …)."""
        return write_hook(self.path / ".git" / "hooks", name, script)

    def head(self, key: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("show", key, "--json").stdout))

    def versions(self, key: str) -> list[dict[str, Any]]:
        return list(json.loads(self.ok("versions", key, "--json").stdout)["versions"])

    def subjects(self, revisions: str = "HEAD") -> list[str]:
        return self.git("log", "--format=%s", revisions).splitlines()

    def state(self) -> tuple[str, str]:
        """HEAD and `git status`: equal before and after means nothing was left behind."""
        return self.git("rev-parse", "HEAD"), self.git("status", "--porcelain", "--untracked-files=all")


class Remote:
    """A bare repository holding one committed store, with [git] push to it."""

    def __init__(self, root: Path, git_settings: str = 'commit = true\npush = "origin"\n') -> None:
        if shutil.which("git") is None:
            pytest.fail("git is required (.ci/run installs it)")
        self.root, self.env = root, git_env(root)
        self.bare = root / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(self.bare)], env=self.env, check=True)
        seed = self.clone("seed")
        seed.ok("init", ".")
        with (seed.path / "flowctl.toml").open("a", encoding="utf-8") as toml:
            toml.write(f"\n[git]\n{git_settings}")
        seed.git("add", "-A")
        seed.git("commit", "-q", "-m", "a flowctl store")
        seed.git("push", "-q", "origin", "main")
        self.seed = seed

    def clone(self, name: str) -> Clone:
        path = self.root / name
        subprocess.run(["git", "clone", "-q", str(self.bare), str(path)], env=self.env, check=True,
                       capture_output=True)
        return Clone(path, self.env)

    def hook(self, name: str, script: str) -> None:
        """A server-side hook of the remote (pre-receive, update, …)."""
        write_hook(self.bare / "hooks", name, script)

    def subjects(self) -> list[str]:
        """The commit subjects of the remote's main, newest first."""
        return subprocess.run(["git", "log", "--format=%s", "main"], cwd=self.bare, env=self.env,
                              capture_output=True, text=True, check=True).stdout.splitlines()

    def tip(self) -> str:
        return subprocess.run(["git", "rev-parse", "main"], cwd=self.bare, env=self.env, capture_output=True,
                              text=True, check=True).stdout.strip()


def scored_config(top_n: int = 5) -> str:
    """A publishable decision-flow config as JSON text."""
    return json.dumps({"version": 2, "nodes": [
        {"id": "source", "type": "candidate_source", "config": {}},
        {"id": "score", "type": "score", "config": {"method": "propensity"}},
        {"id": "rank", "type": "rank", "config": {"topN": top_n}},
        {"id": "output", "type": "output", "config": {}},
    ]})

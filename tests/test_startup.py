"""Read paths stay light: scripts and every TAB of completion pay start-up,
so they must import neither pydantic nor rich (STYLE: startup is a feature)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import PublishVersions, Run, imported_modules


def heavy_modules(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The heavy libraries a real `flowctl ARGS` process imported."""
    loaded = imported_modules(args, cwd, env)
    return sorted(name for name in ("pydantic", "rich", "typing_extensions") if name in loaded)


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["show", "f", "--json"],
        ["show", "f", "--version", "1", "--json"],
        ["versions", "f", "--json"],
        ["list", "--json"],
    ],
)
def test_read_paths_import_neither_pydantic_nor_rich(run: Run, publish_versions: PublishVersions, store: Path,
                                                     args: list[str]) -> None:
    """`show/versions/list --json` and `--version` never load the heavy libraries."""
    publish_versions("f", 2)
    assert heavy_modules(["--store", str(store), *args], cwd=store) == []


def test_publish_does_load_pydantic_for_validation(run: Run, publish_versions: PublishVersions, store: Path) -> None:
    """The probe really sees imports: a publish validates with pydantic."""
    publish_versions("f", 1)
    assert "pydantic" in heavy_modules(["--store", str(store), "publish", "f"], cwd=store)


def test_a_paged_list_skips_what_only_writes_need(run: Run, store: Path) -> None:
    """Who is acting (getpass) matters only to writes, and the next page's cursor
    is base64 spelled with binascii: a list with a next page imports neither."""
    for key in ("a", "b", "c"):
        assert run("create", key, "--name", key.upper()).exit_code == 0
    env = {key: value for key, value in os.environ.items() if key not in ("FLOWCTL_ACTOR", "USER", "LOGNAME")}
    loaded = imported_modules(["--store", str(store), "list", "--limit", "2", "--json"], cwd=store, env=env)
    assert "flowctl.head_cache" in loaded  # the probe saw the list itself
    assert "getpass" not in loaded and "base64" not in loaded
    written = imported_modules(["--store", str(store), "create", "d", "--name", "D"], cwd=store, env=env)
    assert "getpass" in written  # a write with no --actor asks for the login name

"""Paths through symlinks (docs/contract.md §7): readers check each flow's
directory and its versions/ without resolving every name from / (store.py's
`_plainly_inside`), so each place a symlink can sit below the root is tried
here, leading out of the store (refused, exit 8) and staying inside it (used)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Run, flow_dir


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    place = tmp_path / "outside"
    place.mkdir()
    return place


def test_versions_directory_leading_out_is_refused(run: Run, store: Path, outside: Path) -> None:
    assert run("create", "f", "--name", "F").exit_code == 0
    versions = flow_dir(store, "f") / "versions"
    shutil.move(versions, outside / "versions")
    versions.symlink_to(outside / "versions", target_is_directory=True)
    for args in (["show", "f"], ["versions", "f"], ["list"]):
        result = run(*args)
        assert result.exit_code == 8 and "symlink leading out of the store" in result.stderr, (args, result.output)


def test_tenant_directory_leading_out_is_refused(run: Run, store: Path, outside: Path) -> None:
    assert run("create", "f", "--name", "F").exit_code == 0
    tenant = store / "flows" / "default"
    shutil.move(tenant, outside / "default")
    tenant.symlink_to(outside / "default", target_is_directory=True)
    result = run("show", "f")
    assert result.exit_code == 8 and "symlink leading out of the store" in result.stderr, result.output


def test_symlinks_that_stay_inside_the_store_are_followed(run: Run, store: Path) -> None:
    """A tenant directory linked to another place inside the store is used as it is."""
    assert run("create", "f", "--name", "F").exit_code == 0
    tenant = store / "flows" / "default"
    tenant.rename(store / "flows" / "real")
    tenant.symlink_to(store / "flows" / "real", target_is_directory=True)
    result = run("show", "f", "--json")
    assert result.exit_code == 0, result.output

"""The scale cases (issue 13): a tenant of many flows and a flow of very many
versions against small ones, `versions --json` against `git log` over the
same history, and `verify` against `sha256sum` over the same snapshots.

Builder side (`build`, run by build_stores.py under flowctl's interpreter):

- tenant-small / tenant-large: flow directories written as plain files, the
  way a `git pull` brings them (build_stores.build_tenant_store), never seen
  by flowctl; the first `list` on the large one, cold, is timed and reported.
- long-small / long-large: copies of the 10-version store (or the smallest
  size); the large one grown to --long versions with the store's own record
  builders (build_stores.grow_history).
- git-peer: a git repository with one commit per version (git fast-import),
  each changing the flow's flow.json: what a config-repo user would ask
  `git log -- flows/…/flow.json` for.

Runner side (`cases`, `targets`, used by run.py): whole-process cases as
run.py's, measured in the same rounds. The write cases here run on the
pristine store without copying it (a copy of 100,000 snapshots per run would
dominate the run): each run adds one flow or one version, noise against
10,000 or 100,000; rollbacks alternate between two targets so none is ever
"already that config".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

PAGE = ["list", "--limit", "25"]


def build(exe: str, work: Path, small_store: str, flow: str, tenant_flows: int, long_versions: int,
          git_versions: int) -> dict[str, Any]:
    """Build the scale stores; the manifest section describing them."""
    from build_stores import build_tenant_store, grow_history

    started = time.perf_counter()
    tenants = {size: build_tenant_store(exe, work, f"tenant-{size}", count)
               for size, count in (("small", 10), ("large", tenant_flows))}
    cold_started = time.perf_counter()
    cold = subprocess.run([exe, "--store", tenants["large"]["store"], *PAGE, "--json"], capture_output=True,
                          text=True, timeout=600)
    if cold.returncode != 0:
        raise SystemExit(f"build: the cold list failed: {cold.stderr[:2000]}")
    cold_seconds = time.perf_counter() - cold_started
    longs = {}
    for size in ("small", "large"):
        dest = work / f"long-{size}"
        shutil.copytree(small_store, dest, symlinks=True)
        longs[size] = str(dest)
    grown_started = time.perf_counter()
    grow_history(Path(longs["large"]), flow, long_versions)
    grown_seconds = time.perf_counter() - grown_started
    return {
        "tenants": {size: tenant["store"] for size, tenant in tenants.items()},
        "tenant_flows": tenant_flows,
        "cold_list_seconds": round(cold_seconds, 3),
        "long": longs,
        "long_versions": long_versions,
        "grow_seconds": round(grown_seconds, 3),
        "git_peer": build_git_peer(work / "git-peer", flow, git_versions),
        "git_versions": git_versions,
        "seconds": round(time.perf_counter() - started, 3),
    }


def build_git_peer(repo: Path, flow: str, commits: int) -> str:
    """A repository whose history is `commits` commits, each rewriting the flow's
    flow.json (as a publish does), made in one `git fast-import` stream."""
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    path = f"flows/default/{flow}/flow.json"
    chunks = []
    for i in range(1, commits + 1):
        message = f"flowctl: publish {flow} v{i} — \"release {i}\" (bench)".encode()
        content = json.dumps({"key": flow, "latestVersion": i, "rowVersion": 2 * i + 1}, indent=2).encode() + b"\n"
        parent = f"from :{i - 1}\n".encode() if i > 1 else b""
        chunks.append(b"commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n"
                      b"data %d\n%s\n%sM 100644 inline %s\ndata %d\n%s\n"
                      % (i, 1_700_000_000 + i, len(message), message, parent, path.encode(), len(content), content))
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(chunks), check=True)
    return str(repo)


def cases(manifest: dict[str, Any], exe: str, sizes: list[int], case_type: Any) -> list[Any]:
    """The scale cases, as run.py `Case`s (`case_type`)."""
    scale, flow = manifest["scale"], manifest["versions"]["flow"]
    tenant, long = scale["tenants"], scale["long"]
    small_versions = min(sizes)
    versions_of = {"small": small_versions, "large": scale["long_versions"]}

    def total_is(count: int) -> Any:
        def check(out: str) -> None:
            total = json.loads(out)["pagination"]["total"]
            if total != count:
                raise AssertionError(f"list: total {total}, not {count}")
        return check

    built: list[Any] = []
    for size in ("small", "large"):
        count = 10 if size == "small" else scale["tenant_flows"]
        built += [
            case_type(f"list-page@{size}-tenant", f"list --limit 25 --json ({count:,} flows)",
                      [exe, "--store", tenant[size], *PAGE, "--json"], store=tenant[size], needs="list",
                      check_output=total_is(count)),
            case_type(f"show@{size}-tenant", f"show --json ({count:,} flows)",
                      [exe, "--store", tenant[size], "show", "flow-00001", "--json"], store=tenant[size],
                      needs="show"),
            case_type(f"create@{size}-tenant", f"create ({count:,} flows)",
                      [exe, "--store", tenant[size], "create", "new-{run}", "--name", "New"], store=tenant[size],
                      needs="show"),
        ]
    built.append(case_type("list-table@large-tenant", f"list --limit 25, table ({scale['tenant_flows']:,} flows)",
                           [exe, "--store", tenant["large"], *PAGE], store=tenant["large"], needs="list"))
    for size in ("small", "large"):
        n = versions_of[size]
        store = long[size]
        built += [
            case_type(f"show@{size}-long", f"show --json @{n:,} (no copy)",
                      [exe, "--store", store, "show", flow, "--json"], store=store, needs="show"),
            case_type(f"versions-limit@{size}-long", f"versions --limit 20 --json @{n:,}",
                      [exe, "--store", store, "versions", flow, "--limit", "20", "--json"], store=store,
                      needs="versions"),
            case_type(f"publish@{size}-long", f"publish @{n:,} (no copy)",
                      [exe, "--store", store, "publish", flow, "-m", "bench"], store=store, needs="publish"),
            case_type(f"rollback@{size}-long", f"rollback @{n:,} (no copy)",
                      [exe, "--store", store, "rollback", flow, "--version", "{alt}", "-m", "bench"], store=store,
                      needs="rollback", alternates=(str(n - 2), str(n - 1))),
        ]
    built.append(case_type("verify@large-long", f"verify of {scale['long_versions']:,} versions",
                           [exe, "--store", long["large"], "verify", flow], store=long["large"], needs="verify"))
    snapshots = Path(long["large"]) / "flows" / "default" / flow / "versions"
    built.append(case_type("floor:sha256sum", f"sha256sum over the {scale['long_versions']:,} snapshots",
                           ["/bin/sh", "-c", f"find '{snapshots}' -name '*.json' -print0 | xargs -0 sha256sum"],
                           group="floor"))
    git_log = [shutil.which("git") or "git", "-C", scale["git_peer"], "log", "--format=%H %s", "main", "--",
               f"flows/default/{flow}/flow.json"]
    built.append(case_type("floor:git-log", f"git log --format='%H %s' -- flow.json ({scale['git_versions']:,} "
                           "commits)", git_log, group="floor"))
    return built


def targets(manifest: dict[str, Any], sizes: list[int], target_type: Any) -> list[Any]:
    """The scale targets, as run.py `Target`s (`target_type`)."""
    tenants, long = f"{manifest['scale']['tenant_flows']:,} flows", f"{manifest['scale']['long_versions']:,} versions"
    found = [
        target_type(f"list --limit 25 --json at {tenants} <= 1.5x at 10", "list-page@large-tenant",
                    "list-page@small-tenant", 1.5),
        target_type(f"list --limit 25 (table) at {tenants} <= 2.0x the import-typer floor",
                    "list-table@large-tenant", "floor:typer", 2.0),
        target_type(f"create at {tenants} <= 1.15x at 10", "create@large-tenant", "create@small-tenant", 1.15),
        target_type(f"show --json at {tenants} <= 1.10x at 10", "show@large-tenant", "show@small-tenant", 1.10),
        *(target_type(f"{name} at {long} <= 1.15x at {min(sizes)}", f"{name}@large-long", f"{name}@small-long",
                      1.15) for name in ("show", "publish", "rollback", "versions-limit")),
        target_type(f"versions --json at {max(sizes):,} versions <= 1.0x git log over as many commits",
                    f"versions@{max(sizes)}", "floor:git-log", 1.0),
        target_type(f"verify at {long} <= 5x sha256sum over the same snapshots", "verify@large-long",
                    "floor:sha256sum", 5.0),
    ]
    for name in ("list-page", "show", "create"):
        found.append(target_type(f"peak memory of {name} at {tenants} <= 1.5x at 10", f"{name}@large-tenant",
                                 f"{name}@small-tenant", 1.5, metric="rss"))
    for name in ("show", "publish", "rollback", "versions-limit"):
        found.append(target_type(f"peak memory of {name} at {long} <= 1.5x at {min(sizes)}", f"{name}@large-long",
                                 f"{name}@small-long", 1.5, metric="rss"))
    return found


def environment_ok() -> bool:
    """Whether the floors' tools are here (git, sha256sum, find, xargs)."""
    return all(shutil.which(tool) for tool in ("git", "sha256sum", "find", "xargs")) and os.path.exists("/bin/sh")

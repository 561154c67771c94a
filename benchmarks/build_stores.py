"""Build the stores the benchmark runs against (called by run.py, not by hand).

Runs under the interpreter of the installed `flowctl` (run.py finds it from
the console script), because it imports flowctl's own core: the files it
writes are written by flowctl's code, so they are byte-for-byte what the CLI
would write.

How each store is built (see README.md for why):

- versions-N: `flowctl init`, `create`, then the first versions through the
  real CLI (`update --config`, `publish`), so the format is the CLI's; then
  in-process `Flows.update(config=...)` + `Flows.publish(...)` up to the
  largest size, copying the store aside each time a requested size is
  reached. Every version has a distinct config, so `rollback --version N-1`
  is a real rollback and never the "already has this config" conflict.
- diff: two N-node v2 configs differing in a handful of nodes, set up with
  the CLI: `create --config A`, `publish`, `update --config B` (active = A,
  draft = B).
- list: F flows, the first through the CLI, the next ones through
  `Flows.create`, the rest with the same records/journal calls that
  `Flows.create` makes minus its per-create scan of every existing flow
  (that scan makes building 1,000 flows through it quadratic: ~50 s).
  A third are published (active), some paused or archived.

`os.fsync` is a no-op in this process: the stores are throwaway, the bytes
written are the same, and the build is about a third faster. run.py calls
`os.sync()` before timing anything.

Writes a JSON manifest (paths, counts, build timings) to --manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FLOW_KEY = "bench-flow"
DIFF_KEY = "diff-flow"
CLI_VERSIONS = 3  # versions published through the real CLI before the in-process loop
CLI_FLOWS = 1  # flows created through the real CLI in the list store
CORE_FLOWS = 49  # then through Flows.create (the real, but O(flows), code path)


def version_config(i: int) -> dict[str, Any]:
    """A realistic small v2 pipeline; `revision` makes every version's config distinct."""
    return {
        "version": 2,
        "nodes": [
            {"id": "source", "type": "candidate_source", "config": {"table": "customers", "segment": "retail"}},
            {"id": "enrich", "type": "enrich", "config": {"features": ["tenure", "balance", "channel"]}},
            {"id": "qualify", "type": "qualify", "config": {"rules": [{"field": "age", "op": ">=", "value": 18}]}},
            {"id": "exclude-recent", "type": "filter", "config": {"field": "contactedDays", "op": ">", "value": 7}},
            {"id": "score", "type": "score", "config": {"method": "propensity", "model": "nba-2026", "revision": i}},
            {"id": "rank", "type": "rank", "config": {"topN": 5 + i % 20}},
            {"id": "output", "type": "output", "config": {"channel": "api"}},
        ],
        "stages": {"owner": "benchmarks"},
    }


_MIDDLE_TYPES = ("enrich", "qualify", "filter")


def big_config(nodes: int) -> dict[str, Any]:
    """A v2 pipeline of exactly `nodes` nodes, edge-less (list order)."""
    items: list[dict[str, Any]] = [
        {"id": "source", "type": "candidate_source", "config": {"table": "customers", "limit": 100000}}
    ]
    for i in range(1, nodes - 3):
        kind = _MIDDLE_TYPES[i % 3]
        items.append({
            "id": f"{kind}-{i:05d}",
            "type": kind,
            "config": {"field": f"feature_{i % 97}", "op": ">=", "threshold": i % 13, "weight": (i % 10) / 10},
        })
    items += [
        {"id": "score", "type": "score", "config": {"method": "propensity", "model": "nba-2026"}},
        {"id": "rank", "type": "rank", "config": {"topN": 5}},
        {"id": "output", "type": "output", "config": {"channel": "api"}},
    ]
    return {"version": 2, "nodes": items}


def changed_config(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A copy of `config` differing in a handful of nodes; returns it and how many edits."""
    nodes = json.loads(json.dumps(config["nodes"]))
    n = len(nodes)
    for at in (n // 4, n // 2, (3 * n) // 4):  # three changed settings
        nodes[at]["config"]["threshold"] = 99
    del nodes[n // 3]  # one removed node
    nodes.insert(n // 5, {"id": "enrich-new", "type": "enrich", "config": {"field": "feature_new", "op": "=="}})
    moved = nodes.pop(2)  # one node moved (edge-less pipeline: position is order)
    nodes.insert(len(nodes) - 10, moved)
    return {**config, "nodes": nodes}, 6


class Cli:
    """The real `flowctl`, as a process; any failure stops the build loudly."""

    def __init__(self, exe: str, store: Path) -> None:
        self.exe = exe
        self.store = store
        self.calls = 0

    def __call__(self, *args: str) -> str:
        self.calls += 1
        result = subprocess.run([self.exe, "--store", str(self.store), *args],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise SystemExit(f"build: `flowctl {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout


def init_store(exe: str, root: Path) -> Cli:
    result = subprocess.run([exe, "init", str(root)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"build: `flowctl init {root}` exited {result.returncode}: {result.stderr.strip()}")
    return Cli(exe, root)


def write_json(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def build_version_stores(exe: str, work: Path, sizes: list[int]) -> dict[str, Any]:
    """One flow grown to max(sizes) versions; a copy of the store at each size."""
    from flowctl.flows import Flows
    from flowctl.store import Store

    started = time.perf_counter()
    root = work / "versions-building"
    cli = init_store(exe, root)
    cli("create", FLOW_KEY, "--name", "Benchmark flow", "--description", "grown by benchmarks/build_stores.py")
    stores: dict[str, str] = {}
    target = max(sizes)
    wanted = set(sizes)

    def reached(version: int) -> None:
        if version in wanted:
            dest = work / f"versions-{version}"
            if version == target:
                root.rename(dest)
            else:
                shutil.copytree(root, dest, symlinks=True)
            stores[str(version)] = str(dest)

    for i in range(1, min(CLI_VERSIONS, target) + 1):
        cli("update", FLOW_KEY, "--config", write_json(work / f"version-{i}.json", version_config(i)))
        cli("publish", FLOW_KEY, "-m", f"release {i}")
        reached(i)
    cli_seconds = time.perf_counter() - started

    loop_started = time.perf_counter()
    flows = Flows(Store.open(root), "default", "bench") if target > CLI_VERSIONS else None
    for i in range(CLI_VERSIONS + 1, target + 1):
        assert flows is not None
        flows.update(FLOW_KEY, config=version_config(i))
        flows.publish(FLOW_KEY, notes=f"release {i}")
        reached(i)
    loop_seconds = time.perf_counter() - loop_started
    in_process = max(0, target - CLI_VERSIONS)
    return {
        "stores": stores,
        "flow": FLOW_KEY,
        "cli_calls": cli.calls + 1,
        "cli_seconds": round(cli_seconds, 3),
        "in_process_versions": in_process,
        "in_process_seconds": round(loop_seconds, 3),
        "ms_per_in_process_version": round(1000 * loop_seconds / in_process, 3) if in_process else None,
        "seconds": round(time.perf_counter() - started, 3),
    }


def grow_history(root: Path, key: str, target: int, reached: Any = None) -> int:
    """Extend flow `key` of store `root` to `target` versions with the store's own
    record builders (records.new_snapshot, head_after_release, release_audit,
    version_entry, jsonio's encoders): the bytes `publish` writes, streamed
    straight to the files without a lock or process per version, so 100,000
    versions take seconds. Returns how many versions it wrote; `reached(n)`
    is called after version n is complete (head included)."""
    from flowctl import jsonio, kinds, reading, records
    from flowctl.store import Store, write_atomic

    files = Store.open(root).flow_files("default", key)
    head = reading.current_head(files)
    rules = kinds.rules(head["kind"])
    written = 0
    with open(files.version_index, "ab") as index, open(files.audit, "ab") as audit:
        for version in range(head["latestVersion"] + 1, target + 1):
            config = version_config(version)
            snapshot = records.new_snapshot(head, version=version, at=records.now(), actor="bench",
                                            notes=f"release {version}", source={"action": "publish"},
                                            summary=rules.summary(config), config=config)
            new = records.head_after_release(head, snapshot)
            audit.write(jsonio.compact_line(reading.release_audit(snapshot, new["rowVersion"])))
            index.write(jsonio.compact_line(records.version_entry(snapshot)))
            with open(files.snapshot(version), "xb") as fh:
                fh.write(jsonio.encode(snapshot))
            head = new
            written += 1
            if reached is not None and version == target:
                break
    write_atomic(files.head, jsonio.encode(head))
    return written


def build_tenant_store(exe: str, work: Path, name: str, count: int) -> dict[str, Any]:
    """A tenant of `count` flows brought in the way git brings them: three template
    flows made by the CLI (a draft, one published and active, one paused), then
    each flow directory written as plain files, copies of a template with its
    key and id rewritten (configSha256 covers only the config, so every checksum
    still holds). No flowctl command sees them arrive, and none has cached
    anything: the first read command finds them as a `git pull` leaves them."""
    started = time.perf_counter()
    root = work / name
    cli = init_store(exe, root)
    templates = [("tpl-draft", []), ("tpl-active", ["publish"]), ("tpl-paused", ["update", "--status", "paused"])]
    config = write_json(work / "tenant.json", version_config(1))
    tenant = root / "flows" / "default"
    blobs = []
    for key, then in templates:
        cli("create", key, "--name", f"Template {key}", "--config", config)
        if then:
            cli(then[0], key, *then[1:])
        source = tenant / key
        head = json.loads((source / "flow.json").read_text(encoding="utf-8"))
        files = {str(path.relative_to(source)): path.read_bytes()
                 for path in sorted(source.rglob("*")) if path.is_file() and path.suffix != ".lock"}
        blobs.append((head["key"], head["id"], files))
        shutil.rmtree(source)
    for i in range(count):
        key, flow_id = f"flow-{i:05d}", f"flow_{i:012x}"
        tpl_key, tpl_id, files = blobs[i % len(blobs)]
        target = tenant / key
        (target / "versions").mkdir(parents=True)
        for rel, data in files.items():
            if rel.endswith(".json"):  # the head and the snapshots name the flow
                data = data.replace(f'"key": "{tpl_key}"'.encode(), f'"key": "{key}"'.encode()) \
                           .replace(f'"{tpl_id}"'.encode(), f'"{flow_id}"'.encode()) \
                           .replace(f'"name": "Template {tpl_key}"'.encode(), f'"name": "Flow {key}"'.encode())
            (target / rel).write_bytes(data)
    return {"store": str(root), "flows": count, "seconds": round(time.perf_counter() - started, 3)}


def build_diff_store(exe: str, work: Path, nodes: int) -> dict[str, Any]:
    started = time.perf_counter()
    root = work / "diff"
    cli = init_store(exe, root)
    before = big_config(nodes)
    after, edits = changed_config(before)
    cli("create", DIFF_KEY, "--name", "Diff benchmark", "--config", write_json(work / "diff-a.json", before))
    cli("publish", DIFF_KEY, "-m", "baseline")
    cli("update", DIFF_KEY, "--config", write_json(work / "diff-b.json", after))
    return {
        "store": str(root),
        "flow": DIFF_KEY,
        "nodes": nodes,
        "edits": edits,
        "config_bytes": len(json.dumps(before)),
        "seconds": round(time.perf_counter() - started, 3),
    }


def build_list_store(exe: str, work: Path, count: int) -> dict[str, Any]:
    from flowctl import journal, records
    from flowctl.flows import Flows
    from flowctl.store import Store

    started = time.perf_counter()
    root = work / "list"
    cli = init_store(exe, root)
    keys = [f"flow-{i:05d}" for i in range(count)]
    for key in keys[:CLI_FLOWS]:
        cli("create", key, "--name", f"Flow {key}", "--config", write_json(work / "list.json", version_config(1)))
    store = Store.open(root)
    flows = Flows(store, "default", "bench")
    for i, key in enumerate(keys[CLI_FLOWS:CLI_FLOWS + CORE_FLOWS], start=CLI_FLOWS):
        flows.create(key, name=f"Flow {key}", config=version_config(i))
    taken = set(keys)
    for i, key in enumerate(keys[CLI_FLOWS + CORE_FLOWS:], start=CLI_FLOWS + CORE_FLOWS):
        # What Flows.create writes, without its scan of every existing flow for a free id.
        flow_id = f"flow_{secrets.token_hex(6)}"
        while flow_id in taken:
            flow_id = f"flow_{secrets.token_hex(6)}"
        taken.add(flow_id)
        at = records.now()
        head = records.new_head(flow_id=flow_id, tenant="default", key=key, kind="decision-flow", name=f"Flow {key}",
                                description="",
                                status="draft", auto_assembly=True, draft=version_config(i), at=at, actor="bench")
        with store.tenant_lock("default", 10.0):
            journal.create_flow(store.flow_files("default", key), head, records.audit_entry(at, "bench", "create", 1))
    statuses = {"active": 0, "paused": 0, "archived": 0}
    for i, key in enumerate(keys):
        if i % 3 == 0:
            flows.publish(key, notes="first release")
            statuses["active"] += 1
        elif i % 7 == 0:
            flows.update(key, status="paused")
            statuses["paused"] += 1
        elif i % 11 == 0:
            flows.update(key, status="archived")
            statuses["archived"] += 1
    statuses["draft"] = count - sum(statuses.values())
    return {
        "store": str(root),
        "flows": count,
        "via_cli": min(CLI_FLOWS, count),
        "via_flows_create": max(0, min(CORE_FLOWS, count - CLI_FLOWS)),
        "statuses": statuses,
        "seconds": round(time.perf_counter() - started, 3),
    }


def verify(exe: str, root: str, available: bool) -> str:
    """`flowctl verify` on a built store, when the command exists."""
    if not available:
        return "skipped: `flowctl verify` not available"
    result = subprocess.run([exe, "--store", root, "verify", "--json"], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"build: `flowctl verify` found problems in {root} (exit {result.returncode}): "
                         f"{(result.stdout + result.stderr).strip()[:2000]}")
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flowctl", required=True, help="the flowctl executable")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--sizes", required=True, help="comma-separated version counts")
    parser.add_argument("--flows", required=True, type=int)
    parser.add_argument("--nodes", required=True, type=int)
    parser.add_argument("--tenant-flows", required=True, type=int, help="flows in the large tenant (scale.py)")
    parser.add_argument("--long", required=True, type=int, help="versions of the long flow (scale.py)")
    parser.add_argument("--verify", action="store_true", help="run `flowctl verify` on every store")
    parser.add_argument("--manifest", required=True, type=Path)
    args = parser.parse_args()

    os.fsync = lambda fd: None  # throwaway stores; see the module docstring
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    started = time.perf_counter()
    manifest: dict[str, Any] = {"flowctl_module": None}
    import flowctl

    manifest["flowctl_module"] = flowctl.__file__
    manifest["flowctl_version"] = flowctl.__version__
    manifest["versions"] = build_version_stores(args.flowctl, args.workdir, sizes)
    print(f"  versions: {max(sizes):,} versions in {manifest['versions']['seconds']:.1f} s", file=sys.stderr)
    manifest["diff"] = build_diff_store(args.flowctl, args.workdir, args.nodes)
    print(f"  diff: two {args.nodes:,}-node configs in {manifest['diff']['seconds']:.1f} s", file=sys.stderr)
    manifest["list"] = build_list_store(args.flowctl, args.workdir, args.flows)
    print(f"  list: {args.flows:,} flows in {manifest['list']['seconds']:.1f} s", file=sys.stderr)
    import scale

    manifest["scale"] = scale.build(args.flowctl, args.workdir, manifest["versions"]["stores"][str(min(sizes))],
                                    manifest["versions"]["flow"], args.tenant_flows, args.long, max(sizes))
    cold = manifest["scale"]["cold_list_seconds"]
    print(f"  scale: a tenant of {args.tenant_flows:,} flows (cold list {cold:.2f} s), {args.long:,} versions, "
          f"a {max(sizes):,}-commit git peer in {manifest['scale']['seconds']:.1f} s", file=sys.stderr)
    os.sync()
    verify_started = time.perf_counter()
    manifest["verify"] = {
        name: verify(args.flowctl, root, args.verify)
        for name, root in [*(("versions-" + size, path) for size, path in manifest["versions"]["stores"].items()),
                           ("diff", manifest["diff"]["store"]), ("list", manifest["list"]["store"]),
                           *((f"tenant-{size}", path) for size, path in manifest["scale"]["tenants"].items()),
                           ("long-large", manifest["scale"]["long"]["large"])]
    }
    manifest["verify_seconds"] = round(time.perf_counter() - verify_started, 3)
    manifest["seconds"] = round(time.perf_counter() - started, 3)
    args.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

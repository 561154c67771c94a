"""Signed releases through the real CLI, with real keys made by ssh-keygen and a
real allowed_signers file (docs/contract.md §7.8): signing at write time,
verify's proof as of each release's time, tampering, revocation, roles, the
switch-on of signing for an existing store, export/import, and a git round trip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    Run,
    assert_error,
    audit_lines,
    flow_dir,
    imported_modules,
    read_head,
    run_process,
    scored,
    tree_bytes,
    write_config,
)

# The fixed clock of the tests (conftest.EPOCH): every release is published 2026-03-15T14:30:00.000Z.
RELEASED = "2026-03-15"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ed25519 keys without passphrase for alice, bob and mallory (never listed)."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name in ("alice", "bob", "mallory"):
        key = folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
        made[name] = key
    return made


def public(key: Path) -> str:
    """`ssh-ed25519 AAAA…` of a key: what an allowed_signers line holds after the principal."""
    return " ".join(key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2])


def allow(store: Path, keys: dict[str, Path], *lines: str) -> None:
    """Write .flowctl/allowed_signers: `alice` → alice's key line; `alice valid-before="…"` keeps the options."""
    path = store / ".flowctl" / "allowed_signers"
    path.parent.mkdir(exist_ok=True)
    text = ""
    for line in lines:
        name, *options = line.split(" ", 1)
        text += f"{name} {options[0] + ' ' if options else ''}{public(keys[name])}\n"
    path.write_text(text, encoding="utf-8")


def settings(store: Path, signing: str, access: str = "") -> None:
    """flowctl.toml as init wrote it, plus the given [signing] (and [access]) tables."""
    base = 'format = 1\ndefault_tenant = "default"\n'
    (store / "flowctl.toml").write_text(base + "\n[signing]\n" + signing + "\n" + access, encoding="utf-8")


REQUIRED = 'required = true\nallowed_signers = ".flowctl/allowed_signers"\n'


@pytest.fixture
def signed(run: Run, store: Path, keys: dict[str, Path], tmp_path: Path) -> Path:
    """A store requiring signed releases, alice and bob allowed; flow f with v1, v2 signed by alice."""
    allow(store, keys, "alice", "bob")
    settings(store, REQUIRED)
    assert run("create", "f", "--name", "F", "--config", write_config(tmp_path / "f1.json", scored(1))).exit_code == 0
    for top_n in (1, 2):
        if top_n == 2:
            assert run("update", "f", "--config", write_config(tmp_path / "f2.json", scored(2))).exit_code == 0
        result = run("publish", "f", "--signing-key", str(keys["alice"]), "-m", f"release {top_n}")
        assert result.exit_code == 0, result.stderr
    return store


def verify(run: Run) -> tuple[int, str]:
    result = run("verify")
    return result.exit_code, result.stdout


def rewrite(path: Path, change: dict[str, object]) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    record.update(change)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def rewrite_lines(path: Path, version: int, change: dict[str, object]) -> None:
    """Change the JSON line(s) of `path` about `version` (index entry or audit release line)."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line.get("version") == version:
            line.update(change)
    path.write_text("".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines),
                    encoding="utf-8")


# -- writing -----------------------------------------------------------------------


def test_a_signed_release_names_its_signer(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """The signer's principal is the actor; versions --json says who signed with which key; verify is clean."""
    entries = run.json("versions", "f")["versions"]
    assert [entry["publishedBy"] for entry in entries] == ["alice", "alice"]
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", str(keys["alice"])], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    assert entries[0]["signature"] == {"principal": "alice", "keyFingerprint": fingerprint}
    snapshot = run.json("show", "f", "--version", "1")
    assert list(snapshot)[-1] == "signature" and snapshot["signature"]["sshsig"].startswith(
        "-----BEGIN SSH SIGNATURE-----")
    assert "SIGNED" in run("versions", "f").stdout
    assert verify(run) == (0, "ok: 1 flow verified in tenant 'default'\n")


def test_the_key_decides_the_actor_not_the_actor_option(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """--actor mallory with bob's key: the release is bob's (the key proves who released it)."""
    head = run.json("--actor", "mallory", "rollback", "f", "--version", "1", "--signing-key", str(keys["bob"]))
    assert head["flow"]["updatedBy"] == "bob"
    assert audit_lines(signed, "f")[-1]["actor"] == "bob"
    assert verify(run)[0] == 0


def test_an_unsigned_release_is_refused_when_signing_is_required(run: Run, signed: Path) -> None:
    """No key: exit 6 before anything is written, naming --signing-key."""
    before = tree_bytes(signed)
    assert_error(run("publish", "f"), 6, "requires signed releases", "--signing-key")
    assert tree_bytes(signed) == before


def test_a_key_allowed_signers_does_not_list_is_refused(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """mallory's key maps to no principal: exit 6, nothing written."""
    before = tree_bytes(signed)
    assert_error(run("publish", "f", "--signing-key", str(keys["mallory"])), 6, "is not in", "allowed_signers")
    assert tree_bytes(signed) == before


def test_a_signer_without_the_role_is_refused_but_stays_valid_after_leaving(
        run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """bob may not roll back (admin is alice): exit 6. alice's releases, once she loses admin,
    still verify, with a note."""
    settings(signed, REQUIRED, '[access]\nviewer = ["*"]\neditor = ["alice", "bob"]\nadmin = ["alice"]\n')
    before = tree_bytes(signed)
    assert_error(run("rollback", "f", "--version", "1", "--signing-key", str(keys["bob"])), 6,
                 "actor 'bob' may not rollback", "held by alice")
    assert tree_bytes(signed) == before
    assert run("rollback", "f", "--version", "1", "--signing-key", str(keys["alice"])).exit_code == 0
    settings(signed, REQUIRED, '[access]\nviewer = ["*"]\neditor = ["bob"]\nadmin = ["bob"]\n')
    code, out = verify(run)
    assert code == 0
    assert "note: v3: signed by alice, who no longer holds the admin role a rollback needs" in out


def test_a_policy_rollback_is_signed_in_its_audit_line(run: Run, store: Path, keys: dict[str, Path],
                                                        tmp_path: Path) -> None:
    """A swap writes no snapshot: its audit line carries the signature, and a changed note there is caught."""
    allow(store, keys, "alice")
    settings(store, REQUIRED)
    source = tmp_path / "p.aster"
    for threshold in (1, 2):
        source.write_text(f"Module Loan.\n\nRule ok given a:\n  Return a.x > {threshold}.\n", encoding="utf-8")
        if threshold == 1:
            assert run("create", "p", "--kind", "policy", "--name", "P").exit_code == 0
        assert run("update", "p", "--source", str(source)).exit_code == 0
        assert run("publish", "p", "--signing-key", str(keys["alice"])).exit_code == 0
    assert run("rollback", "p", "--version", "1", "--signing-key", str(keys["alice"]), "--reason", "bad").exit_code == 0
    line = audit_lines(store, "p")[-1]
    assert line["action"] == "rollback" and line["signature"]["principal"] == "alice"
    assert verify(run)[0] == 0
    audit = flow_dir(store, "p") / "audit.jsonl"
    audit.write_text(audit.read_text(encoding="utf-8").replace('"notes":"bad"', '"notes":"fine"'), encoding="utf-8")
    code, out = verify(run)
    assert code == 8 and "the rollback to v1: content changed after signing" in out


# -- verifying ---------------------------------------------------------------------


def test_notes_changed_everywhere_after_signing_are_caught(run: Run, signed: Path) -> None:
    """The notes edited consistently in snapshot, index and audit line: the files agree, the signature does not."""
    rewrite(flow_dir(signed, "f") / "versions" / "000001.json", {"notes": "nothing to see"})
    for name in ("versions.jsonl", "audit.jsonl"):
        rewrite_lines(flow_dir(signed, "f") / name, 1, {"notes": "nothing to see"})
    code, out = verify(run)
    assert code == 8
    assert "versions/000001.json: v1: content changed after signing" in out


def test_a_config_changed_with_its_checksum_recomputed_is_caught(run: Run, signed: Path) -> None:
    """A new config and its honest configSha256: the snapshot is sound, its signature is not."""
    from flowctl import jsonio

    path = flow_dir(signed, "f") / "versions" / "000002.json"
    config = scored(99)
    rewrite(path, {"configSnapshot": config, "configSha256": jsonio.config_sha256(config)})
    code, out = verify(run)
    assert code == 8 and "v2: content changed after signing" in out


def test_a_key_removed_from_allowed_signers_fails_its_releases(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """alice's line gone: her releases no longer prove themselves (exit 8, per version)."""
    allow(signed, keys, "bob")
    code, out = verify(run)
    assert code == 8 and "v1:" in out and "v2:" in out and "alice" in out


def test_a_key_revoked_later_keeps_its_earlier_releases_valid(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """valid-before after the release: still valid; valid-before the release: exit 8 naming the day."""
    allow(signed, keys, 'alice valid-before="20260401"', "bob")
    assert verify(run)[0] == 0
    allow(signed, keys, 'alice valid-before="20260301"', "bob")
    code, out = verify(run)
    assert code == 8 and f"v1: alice's key was not valid on {RELEASED}" in out


def test_an_unsigned_release_after_a_signed_one_is_caught(run: Run, signed: Path, tmp_path: Path) -> None:
    """Signing switched off for one release, then on again: v3 has no signature, signing was required since v1."""
    settings(signed, 'required = false\nallowed_signers = ".flowctl/allowed_signers"\n')
    assert run("update", "f", "--config", write_config(tmp_path / "f3.json", scored(3))).exit_code == 0
    assert run("publish", "f").exit_code == 0
    assert verify(run)[0] == 0  # not required: an unsigned release is fine
    settings(signed, REQUIRED)
    code, out = verify(run)
    assert code == 8 and "v3: no signature (signing required since v1)" in out


def test_turning_signing_on_keeps_earlier_releases_valid(run: Run, store: Path, keys: dict[str, Path],
                                                        tmp_path: Path) -> None:
    """Unsigned v1 and v2, then required = true: they verify; `since` before them makes them count."""
    assert run("create", "f", "--name", "F", "--config", write_config(tmp_path / "f.json", scored(1))).exit_code == 0
    assert run("publish", "f").exit_code == 0
    allow(store, keys, "alice")
    settings(store, REQUIRED)
    assert verify(run)[0] == 0
    settings(store, REQUIRED + 'since = "2026-03-15T14:30:00Z"\n')  # the very second v1 was published
    code, out = verify(run)
    assert code == 8 and "v1: no signature (signing required since 2026-03-15T14:30:00.000Z)" in out
    settings(store, REQUIRED + 'since = "2026-03-15T14:30:01Z"\n')
    assert verify(run)[0] == 0


def test_reading_a_signed_store_never_runs_ssh_keygen(run: Run, signed: Path, tmp_path: Path) -> None:
    """show/versions --json work with no ssh-keygen on PATH (nothing is checked on reads); verify cannot
    check signatures without it and says so, exit 2, naming the package to install."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {"PATH": str(bin_dir), "FLOWCTL_STORE": str(signed)}
    for args in (["show", "f", "--json"], ["versions", "f", "--json"], ["show", "f", "--version", "1"]):
        assert run_process(*args, env=env).returncode == 0, args
    result = run_process("verify", env=env)
    assert result.returncode == 2 and "ssh-keygen not found" in result.stderr and "openssh-client" in result.stderr


# -- moving and sharing ------------------------------------------------------------


def test_export_and_import_carry_the_signatures(run: Run, signed: Path, keys: dict[str, Path],
                                                tmp_path: Path) -> None:
    """Into a second store that requires signing: the flow imports under its own names and verifies;
    under a new key its signatures do not prove it and nothing is imported (exit 8)."""
    bundle = tmp_path / "f.json"
    bundle.write_text(run("export", "f").stdout, encoding="utf-8")
    other = Run(tmp_path / "other")
    assert run_process("init", str(other.store)).returncode == 0
    allow(other.store, keys, "alice")
    settings(other.store, REQUIRED)
    before = tree_bytes(other.store)
    assert_error(other("import", str(bundle), "--key", "renamed"), 8, "do not prove themselves", problems=True)
    assert tree_bytes(other.store) == before
    assert other("import", str(bundle)).exit_code == 0
    assert other("verify").exit_code == 0
    assert other.json("versions", "f")["versions"][1]["signature"]["principal"] == "alice"


def test_signatures_verify_in_a_second_clone(run: Run, store: Path, keys: dict[str, Path], tmp_path: Path) -> None:
    """Signed releases committed and pushed to a bare remote verify in a fresh clone; a tampered clone does not."""
    if shutil.which("git") is None:
        pytest.fail("git is required (.ci/run installs it)")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    remote, first, second = tmp_path / "remote.git", tmp_path / "first", tmp_path / "second"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("clone", "-q", str(remote), str(first), cwd=tmp_path)
    assert run_process("init", cwd=first).returncode == 0
    allow(first, keys, "alice")
    settings(first, REQUIRED)
    for args in (["create", "f", "--name", "F", "--config", write_config(tmp_path / "f.json", scored(2))],
                 ["publish", "f", "--signing-key", str(keys["alice"]), "-m", "signed"]):
        assert run_process(*args, cwd=first).returncode == 0
    git("add", "-A", cwd=first)
    git("commit", "-q", "-m", "publish f v1", cwd=first)
    git("push", "-q", "origin", "HEAD", cwd=first)
    git("clone", "-q", str(remote), str(second), cwd=tmp_path)
    result = run_process("verify", cwd=second)
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_head(second, "f")["updatedBy"] == "alice"
    rewrite(flow_dir(second, "f") / "versions" / "000001.json", {"publishedBy": "mallory"})
    rewrite_lines(flow_dir(second, "f") / "versions.jsonl", 1, {"publishedBy": "mallory"})
    assert run_process("verify", cwd=second).returncode == 8


def test_a_signing_key_needs_a_signing_table(run: Run, store: Path, keys: dict[str, Path]) -> None:
    """--signing-key in a store without [signing]: exit 2, saying where allowed_signers is set."""
    assert run("create", "f", "--name", "F").exit_code == 0
    assert_error(run("publish", "f", "--signing-key", str(keys["alice"])), 2, "[signing]", "allowed_signers")


def test_reading_a_signed_store_imports_nothing_of_signing(run: Run, signed: Path) -> None:
    """show/versions --json of a signed store load neither the signing modules nor the access policy."""
    for args in (["show", "f", "--json"], ["versions", "f", "--json"]):
        loaded = imported_modules(["--store", str(signed), *args], cwd=signed)
        assert "flowctl.api" in loaded, loaded  # the probe sees flowctl's own modules
        assert not loaded & {"flowctl.signing", "flowctl.signatures", "flowctl.signature_checks", "flowctl.access"}


def test_an_oversized_signature_is_one_finding_not_the_end_of_verify(run: Run, signed: Path, tmp_path: Path) -> None:
    """A 100 KB sshsig in v1: verify reports v1 (file named), still checks the rest, and --json is a document."""
    path = flow_dir(signed, "f") / "versions" / "000001.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["signature"]["sshsig"] = "A" * 100_000
    rewrite(path, {"signature": record["signature"]})
    code, out = verify(run)
    assert code == 8
    assert "versions/000001.json: v1:" in out and "64 KiB" in out
    assert "v2" not in out  # v2 was checked, and is fine
    result = run("--json", "verify")
    assert result.exit_code == 8 and json.loads(result.stdout)["ok"] is False


def test_repair_never_erases_that_a_version_was_signed(run: Run, signed: Path) -> None:
    """The signature removed from a snapshot: the index still says who signed; repair leaves it for a person."""
    path = flow_dir(signed, "f") / "versions" / "000001.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["signature"]
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    index_before = (flow_dir(signed, "f") / "versions.jsonl").read_bytes()
    assert run("verify", "--repair").exit_code == 8
    assert (flow_dir(signed, "f") / "versions.jsonl").read_bytes() == index_before
    code, out = verify(run)
    assert code == 8 and "who signed v1 differs from its line in versions.jsonl" in out


@pytest.mark.parametrize("table", [
    'required = true\nallowed_signers = "/etc/passwd"\n',
    'required = true\nallowed_signers = "../outside"\n',
    'required = true\nsince = "2026-13-45T00:00:00Z"\n',
    'required = "yes"\n',
])
def test_a_malformed_signing_table_is_exit_8(run: Run, signed: Path, keys: dict[str, Path], table: str) -> None:
    """allowed_signers outside the store, an impossible since, a non-boolean required: exit 8 naming [signing]."""
    settings(signed, table)
    assert_error(run("publish", "f", "--signing-key", str(keys["alice"])), 8, "[signing]")
    assert run("verify").exit_code == 8


def test_a_signer_without_the_role_is_told_to_use_another_key(run: Run, signed: Path, keys: dict[str, Path]) -> None:
    """Signed, the key decides the actor: the refusal advises --signing-key, not --actor."""
    settings(signed, REQUIRED, '[access]\nviewer = ["*"]\neditor = ["alice", "bob"]\nadmin = ["alice"]\n')
    result = run("--actor", "alice", "rollback", "f", "--version", "1", "--signing-key", str(keys["bob"]))
    assert_error(result, 6, "actor 'bob' may not rollback", "--signing-key")
    assert "--actor" not in result.stderr

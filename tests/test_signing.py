"""Signed releases through the real ssh-keygen: keys made in tmp, real allowed_signers
files, real ssh-agent; each failure is classified the way the docstring of `verify` says."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from flowctl.errors import BadInput, IntegrityError
from flowctl.signing import (
    DOMAIN,
    MAX_SIGNATURE,
    canonical_release,
    find_principals,
    fingerprint,
    public_key,
    sign,
    verify,
)

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")

RELEASE = {
    "flowId": "flow_0123456789ab", "tenantId": "default", "key": "pricing", "version": 3,
    "configSha256": "ab" * 32, "action": "publish", "restoredVersion": None, "previousVersion": 2,
    "publishedBy": "alice", "publishedAt": "2026-03-15T14:30:00.000Z", "notes": "prix d'été",
}
AT = "2026-03-15T14:30:00.000Z"
NEW_KEY = "give --signing-key a private key file (ssh-keygen -t ed25519 -f KEY -N '')"


class Keys(NamedTuple):
    alice: Path
    mallory: Path
    locked: Path  # passphrase "secret"


class Signed(NamedTuple):
    content: bytes
    signature: str


def keygen(path: Path, passphrase: str = "") -> Path:
    """A new ed25519 key pair at `path` (and `path`.pub)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Three keys, made once for the module."""
    where = tmp_path_factory.mktemp("keys")
    return Keys(keygen(where / "alice"), keygen(where / "mallory"), keygen(where / "locked", "secret"))


@pytest.fixture(scope="module")
def signed(keys: Keys) -> Signed:
    """RELEASE signed by alice, made once."""
    content = canonical_release(RELEASE)
    return Signed(content, sign(content, keys.alice))


def allowed(tmp_path: Path, *lines: str) -> Path:
    """An allowed_signers file of `lines`."""
    path = tmp_path / "allowed_signers"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_sign_then_verify(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """An armored signature that verifies for alice, now and at the release's time, with her key's fingerprint."""
    assert signed.signature.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert signed.signature.endswith("-----END SSH SIGNATURE-----\n")
    signers = allowed(tmp_path, f"alice {public_key(keys.alice)}")
    for at in (None, AT):
        result = verify(signed.content, signed.signature, "alice", signers, at)
        assert (result.ok, result.code, result.fingerprint) == (True, "good", fingerprint(keys.alice))
        assert result.reason == f"good signature by 'alice' with key {fingerprint(keys.alice)}"


def test_find_principals_names_the_signer(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """find-principals gives the principals of the signing key's lines only."""
    signers = allowed(tmp_path, f"mallory {public_key(keys.mallory)}", "# a comment",
                      f"alice,release-bot {public_key(keys.alice)}")
    assert find_principals(signed.signature, signers) == ["alice", "release-bot"]
    assert find_principals(signed.signature, signers, AT) == ["alice", "release-bot"]
    assert verify(signed.content, signed.signature, "release-bot", signers).ok


def test_tampered_content_is_content_changed(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A release whose fields changed after signing fails with content-changed."""
    signers = allowed(tmp_path, f"alice {public_key(keys.alice)}")
    result = verify(canonical_release({**RELEASE, "version": 4}), signed.signature, "alice", signers, AT)
    assert (result.ok, result.code) == (False, "content-changed")
    assert "content changed after signing" in result.reason


def test_other_signed_bytes_never_pass_as_a_release(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A flowctl signature of the same JSON without the domain line is not a release signature."""
    signers = allowed(tmp_path, f"alice {public_key(keys.alice)}")
    bare = sign(signed.content.removeprefix(DOMAIN), keys.alice)
    assert verify(signed.content, bare, "alice", signers).code == "content-changed"


def test_key_not_in_allowed_signers(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A key listed nowhere: no principal, and verify says unknown-key with the key and the file."""
    signers = allowed(tmp_path, f"alice {public_key(keys.mallory)}")
    assert find_principals(signed.signature, signers, AT) == []
    result = verify(signed.content, signed.signature, "alice", signers, AT)
    assert (result.ok, result.code, result.fingerprint) == (False, "unknown-key", fingerprint(keys.alice))
    assert result.reason == f"key {fingerprint(keys.alice)} is not listed for 'alice' in {str(signers)!r}"


def test_key_listed_for_someone_else(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """alice's key listed for bob does not verify as alice's, and the reason names bob."""
    signers = allowed(tmp_path, f"bob {public_key(keys.alice)}")
    result = verify(signed.content, signed.signature, "alice", signers, AT)
    assert result.code == "unknown-key"
    assert result.reason.endswith("(it is listed for bob)")


def test_revoked_key_keeps_its_earlier_releases(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """valid-before revokes a key from a date: a release made before it still verifies,
    one made after it is not-valid-then (ssh-keygen: "key has expired")."""
    signers = allowed(tmp_path, f'alice valid-before="20260301Z" {public_key(keys.alice)}')
    assert verify(signed.content, signed.signature, "alice", signers, "2026-02-15T09:00:00.000Z").ok
    assert find_principals(signed.signature, signers, "2026-02-15T09:00:00.000Z") == ["alice"]
    result = verify(signed.content, signed.signature, "alice", signers, AT)
    assert (result.ok, result.code, result.fingerprint) == (False, "not-valid-then", fingerprint(keys.alice))
    assert result.reason.startswith(f"key {fingerprint(keys.alice)} of 'alice' was not valid at {AT} (")
    assert "key has expired" in result.reason
    assert find_principals(signed.signature, signers, AT) == []


def test_key_not_yet_valid(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A release before a key's valid-after is not-valid-then too (ssh-keygen: "not yet valid")."""
    signers = allowed(tmp_path, f'alice valid-after="20260401Z",valid-before="20260501Z" {public_key(keys.alice)}')
    result = verify(signed.content, signed.signature, "alice", signers, AT)
    assert result.code == "not-valid-then"
    assert "key is not yet valid" in result.reason
    assert verify(signed.content, signed.signature, "alice", signers, "2026-04-15T00:00:00.000Z").ok


def test_time_rounds_up_to_the_second(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """valid-before is inclusive to the second; a release a millisecond after it counts as after."""
    signers = allowed(tmp_path, f'alice valid-before="20260301000000Z" {public_key(keys.alice)}')
    assert verify(signed.content, signed.signature, "alice", signers, "2026-03-01T00:00:00.000Z").ok
    late = verify(signed.content, signed.signature, "alice", signers, "2026-03-01T00:00:00.001Z")
    assert late.code == "not-valid-then"


def test_dates_without_z_are_utc_whatever_the_local_zone(
        keys: Keys, signed: Signed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In Tokyo (UTC+9) a bare valid-before="20260301000000" would end at 15:00 UTC the day
    before; flowctl reads it as UTC, so a release at 20:00 UTC on Feb 28 still verifies."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    signers = allowed(tmp_path, f'alice valid-before="20260301000000" {public_key(keys.alice)}')
    assert verify(signed.content, signed.signature, "alice", signers, "2026-02-28T20:00:00.000Z").ok


@pytest.mark.parametrize("at", ["2026-03-15 14:30:00", "2026-02-30T00:00:00.000Z", "20260315T143000Z", ""])
def test_bad_time_is_bad_input(signed: Signed, tmp_path: Path, at: str) -> None:
    """A time that is not a flowctl timestamp is refused, naming the form to use."""
    with pytest.raises(BadInput, match=r"is not a flowctl timestamp \(2026-03-15T14:30:00.000Z, UTC\)"):
        verify(signed.content, signed.signature, "alice", allowed(tmp_path), at)


def test_signature_for_another_namespace(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A git signature (namespace "git") of the same bytes is other-namespace."""
    (tmp_path / "data").write_bytes(signed.content)
    subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(keys.alice), str(tmp_path / "data")],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    git_signature = (tmp_path / "data.sig").read_text()
    result = verify(signed.content, git_signature, "alice", allowed(tmp_path, f"alice {public_key(keys.alice)}"))
    assert (result.ok, result.code) == (False, "other-namespace")


def test_key_restricted_to_other_namespaces(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A key allowed only for git signatures (namespaces="git") may not sign releases."""
    signers = allowed(tmp_path, f'alice namespaces="git" {public_key(keys.alice)}')
    result = verify(signed.content, signed.signature, "alice", signers)
    assert result.code == "namespace-refused"
    assert "not permitted for use in signature namespace" in result.reason


def test_malformed_signature(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """Text that is not an SSH signature: verify says malformed, find_principals raises exit 8."""
    signers = allowed(tmp_path, f"alice {public_key(keys.alice)}")
    cut = signed.signature[:120]
    for text in ("not a signature", cut):
        result = verify(signed.content, text, "alice", signers)
        assert (result.ok, result.code, result.fingerprint) == (False, "malformed", None)
        assert result.reason.startswith("the signature is not an SSH signature (")
        with pytest.raises(IntegrityError, match="signature is not an SSH signature"):
            find_principals(text, signers)


def test_signature_over_64_kib_is_refused(keys: Keys, signed: Signed, tmp_path: Path) -> None:
    """A signature text over 64 KiB is damage, refused before ssh-keygen sees it."""
    signers = allowed(tmp_path, f"alice {public_key(keys.alice)}")
    huge = signed.signature + "A" * MAX_SIGNATURE
    with pytest.raises(IntegrityError, match=r"over the 64 KiB limit"):
        verify(signed.content, huge, "alice", signers)
    with pytest.raises(IntegrityError, match=r"over the 64 KiB limit"):
        find_principals(huge, signers)


def test_missing_allowed_signers_names_the_setting(signed: Signed, tmp_path: Path) -> None:
    """No allowed_signers file: exit 8 naming the file and the setting."""
    missing = tmp_path / "nope"
    with pytest.raises(IntegrityError) as caught:
        verify(signed.content, signed.signature, "alice", missing, AT)
    assert caught.value.message.startswith(f"allowed signers file {str(missing)!r} does not exist: set "
                                           "[signing] allowed_signers in flowctl.toml")
    with pytest.raises(IntegrityError, match="is not a file"):
        find_principals(signed.signature, tmp_path)


def test_fingerprint_and_public_key_of_either_half(keys: Keys) -> None:
    """The private key file and its .pub give the same SHA256 fingerprint and key line."""
    pub = keys.alice.with_name("alice.pub")
    assert re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", fingerprint(keys.alice))
    assert fingerprint(pub) == fingerprint(keys.alice) != fingerprint(keys.mallory)
    assert fingerprint(keys.locked) == fingerprint(keys.locked.with_name("locked.pub"))
    line = public_key(keys.alice)
    assert re.fullmatch(r"ssh-ed25519 AAAA[A-Za-z0-9+/]+=*", line)
    assert public_key(pub) == line == " ".join(pub.read_text().split()[:2])


def test_public_key_of_a_locked_private_key_asks_for_its_pub(keys: Keys) -> None:
    """A passphrase-protected private key cannot give its public line: the hint names its .pub."""
    with pytest.raises(BadInput) as caught:
        public_key(keys.locked)
    assert caught.value.hint == f"give its public key file instead ({keys.locked}.pub)"


def test_missing_key_file(tmp_path: Path) -> None:
    """A key path that does not exist: bad input naming it, with how to make a key."""
    with pytest.raises(BadInput) as caught:
        sign(b"x", tmp_path / "id_none")
    assert caught.value.message == f"signing key {str(tmp_path / 'id_none')!r} does not exist"
    assert caught.value.hint == NEW_KEY
    with pytest.raises(BadInput, match="is not a file"):
        fingerprint(tmp_path)


def test_not_a_key_file(tmp_path: Path) -> None:
    """A file that holds no key is refused as not an SSH key file."""
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(BadInput, match="is not an SSH key file"):
        sign(b"x", tmp_path / "notes.txt")
    with pytest.raises(BadInput, match="is not an SSH key file"):
        fingerprint(tmp_path / "notes.txt")


def test_private_key_readable_by_others(keys: Keys, tmp_path: Path) -> None:
    """ssh-keygen ignores a private key others can read; the hint is the chmod that fixes it."""
    loose = tmp_path / "loose key"
    shutil.copyfile(keys.alice, loose)
    loose.chmod(0o644)
    with pytest.raises(BadInput) as caught:
        sign(b"x", loose)
    assert "can be read by others" in caught.value.message
    assert caught.value.hint == f"chmod 600 '{loose}'"


def test_locked_key_without_agent_is_refused_at_once(
        keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    """A passphrase-protected key and no agent: bad input saying so, in well under the timeout."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    started = time.monotonic()
    with pytest.raises(BadInput) as caught:
        sign(b"x", keys.locked)
    assert time.monotonic() - started < 5
    assert caught.value.message == f"signing key {str(keys.locked)!r} is passphrase-protected and not in ssh-agent"
    assert caught.value.hint is not None and caught.value.hint.startswith("add it with ssh-add")


def _take_terminal() -> None:
    """In the child, after setsid: make the pty on fd 0 its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_locked_key_never_prompts_on_the_terminal(keys: Keys) -> None:
    """Run from a real terminal, signing with a locked key fails without writing a prompt to it
    or waiting for a passphrase: ssh-keygen gets no terminal."""
    leader, follower = os.openpty()
    code = ("import sys; from pathlib import Path; from flowctl.errors import BadInput; "
            "from flowctl.signing import sign\ntry:\n    sign(b'x', Path(sys.argv[1]))\n"
            "except BadInput as error:\n    print('REFUSED:', error.message)\n")
    env = {name: value for name, value in os.environ.items() if name != "SSH_AUTH_SOCK"}
    child = subprocess.Popen([sys.executable, "-c", code, str(keys.locked)], stdin=follower, stdout=follower,
                             stderr=follower, env=env, start_new_session=True, preexec_fn=_take_terminal)
    os.close(follower)
    seen, deadline = b"", time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # EIO: the terminal's last user is gone
                    break
                if not chunk:
                    break
                seen += chunk
            elif child.poll() is not None:
                break
    finally:
        os.close(leader)
        if child.poll() is None:
            child.kill()
        child.wait(5)
    assert b"REFUSED: signing key" in seen and b"passphrase-protected" in seen
    assert b"Enter passphrase" not in seen


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real ssh-agent of this test only, on a socket in tmp, named by SSH_AUTH_SOCK."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
        pytest.skip("needs ssh-agent and ssh-add")
    sock = tmp_path_factory.mktemp("agent") / "sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        assert sock.exists(), "ssh-agent did not start"
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield sock
    finally:
        process.terminate()
        process.wait(5)


def ssh_add(key: Path, tmp_path: Path, passphrase: str = "") -> None:
    """Add `key` to the agent of SSH_AUTH_SOCK, answering its passphrase through SSH_ASKPASS."""
    askpass = tmp_path / "askpass"
    askpass.write_text(f"#!/bin/sh\necho '{passphrase}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    subprocess.run(["ssh-add", "-q", str(key)], check=True, env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=10)


def test_public_key_file_signs_through_the_agent(keys: Keys, agent: Path, tmp_path: Path) -> None:
    """A lone .pub (no private key beside it) signs once its private key is in ssh-agent."""
    lone = tmp_path / "elsewhere.pub"
    shutil.copyfile(keys.alice.with_name("alice.pub"), lone)
    ssh_add(keys.alice, tmp_path)
    content = canonical_release(RELEASE)
    signers = allowed(tmp_path, f"alice {public_key(lone)}")
    assert verify(content, sign(content, lone), "alice", signers, AT).ok


def test_public_key_file_without_agent_key(keys: Keys, agent: Path, tmp_path: Path) -> None:
    """A lone .pub whose private key the agent does not hold is refused, saying so."""
    lone = tmp_path / "elsewhere.pub"
    shutil.copyfile(keys.mallory.with_name("mallory.pub"), lone)
    with pytest.raises(BadInput, match="is a public key whose private key is not in ssh-agent"):
        sign(b"x", lone)


def test_locked_key_signs_through_the_agent(keys: Keys, agent: Path, tmp_path: Path) -> None:
    """A passphrase-protected key added to ssh-agent signs without any passphrase asked."""
    ssh_add(keys.locked, tmp_path, "secret")
    content = canonical_release(RELEASE)
    signers = allowed(tmp_path, f"alice {public_key(keys.locked.with_name('locked.pub'))}")
    assert verify(content, sign(content, keys.locked), "alice", signers, AT).ok


def test_ssh_keygen_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ssh-keygen on PATH: bad input saying what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "key").write_text("x")
    with pytest.raises(BadInput) as caught:
        sign(b"x", tmp_path / "key")
    assert caught.value.message == ("ssh-keygen not found: signed releases need OpenSSH ≥ 8.2 "
                                    "(apt-get install openssh-client)")


def test_canonical_release_bytes() -> None:
    """The domain line, then compact sorted UTF-8 JSON: the same for any key order."""
    reordered = dict(reversed(list(RELEASE.items())))
    assert list(reordered) != list(RELEASE)
    assert canonical_release(reordered) == canonical_release(RELEASE)
    assert canonical_release({"version": 3, "notes": "été", "key": None}) == (
        b'flowctl-release-v1\n{"key":null,"notes":"\xc3\xa9t\xc3\xa9","version":3}')


def test_canonical_release_refuses_what_cannot_be_signed() -> None:
    """A `signature` field or a NaN is a caller's bug: ValueError."""
    with pytest.raises(ValueError, match="leave the 'signature' field out"):
        canonical_release({**RELEASE, "signature": "x"})
    with pytest.raises(ValueError):
        canonical_release({"notes": float("nan")})

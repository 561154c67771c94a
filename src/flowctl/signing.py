"""Signed releases through the `ssh-keygen` executable (OpenSSH ≥ 8.2), namespace "flowctl".

flowctl signs with the keys people already have and verifies against an
`allowed_signers` file, as git does for SSH-signed commits: no crypto of its
own. The bytes signed are `canonical_release`: a fixed domain line, then the
release's fields as canonical JSON, so a signature of anything else cannot
pass as a release's.

ssh-keygen never prompts: it runs in a new session (no terminal), with stdin
the content or /dev/null and SSH_ASKPASS_REQUIRE=never, so a key with a
passphrase that is not in ssh-agent fails at once instead of hanging. `sign`
gives it the content as a file, not on stdin, because a passphrase prompt
without a terminal reads stdin and would eat the content. Content and
signatures go through a private temporary directory, never the store; every
run has a timeout. TZ is UTC, so an allowed_signers date without `Z` means the
same on every machine. Dates there are quoted: `valid-before="20260301Z"`
(YYYYMMDD[HHMM[SS]][Z]); unquoted is a "bad options" line ssh-keygen skips.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from .errors import BadInput, FlowctlError, IntegrityError
from .jsonio import shown

NAMESPACE = "flowctl"
DOMAIN = b"flowctl-release-v1\n"
MAX_SIGNATURE = 64 * 1024  # bytes; an ed25519 signature is ~300, an RSA-16384 one ~3,000
TIMEOUT = 30.0  # seconds one ssh-keygen run may take (a security key waiting for a touch)

_MISSING = "ssh-keygen not found: signed releases need OpenSSH ≥ 8.2 (apt-get install openssh-client)"
_NEW_KEY = "give --signing-key a private key file (ssh-keygen -t ed25519 -f KEY -N '')"
_SETTING = "[signing] allowed_signers in flowctl.toml"
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z\Z")
_FINGERPRINT = re.compile(r"\b(SHA256:[A-Za-z0-9+/]+=*)")
_KEY_LINE = re.compile(r"^([a-z][a-z0-9@.-]*) (AAAA[A-Za-z0-9+/]+=*)(?:\s|$)", re.M)  # type, base64
_NOT_VALID = ("key has expired", "key is not yet valid")  # ssh-keygen's words for a valid-before/after miss
_UNREADABLE = ("parse signature", "sshsig_armor")  # … for text that is no signature (armor, base64)

Outcome = Literal["good", "malformed", "other-namespace", "content-changed", "not-valid-then",
                  "namespace-refused", "unknown-key"]


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: `ok`, a machine-readable `code`, a one-line `reason`, and the
    SHA256 fingerprint of the key that made the signature, once it is known to match the content."""

    ok: bool
    code: Outcome
    reason: str
    fingerprint: str | None


def canonical_release(fields: Mapping[str, Any]) -> bytes:
    """The exact bytes signed for a release: `flowctl-release-v1\\n`, then `fields` as JSON
    (sorted keys, separators "," and ":", UTF-8, no NaN). Every field of the release but the
    signature goes in (id, tenant, key, version, configSha256, action, publishedBy, …); a
    `signature` field is a caller's bug, refused with ValueError."""
    if "signature" in fields:
        raise ValueError("canonical_release: the signature cannot sign itself; leave the 'signature' field out")
    text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return DOMAIN + text.encode("utf-8")


def _path(path: Path) -> str:
    """A file as a message names it: in full (a cut path cannot be found), quoted."""
    return repr(os.fspath(path))


def _lines(stream: bytes) -> list[str]:
    text = stream.decode("utf-8", "replace").replace("\r", "")
    return [line.strip() for line in text.split("\n") if line.strip()]


def _run(args: list[str], doing: str, error: type[FlowctlError], stdin: bytes | None = None,
         ) -> subprocess.CompletedProcess[bytes]:
    """Run ssh-keygen with `args` and no way to prompt; `doing` and `error` word a timeout."""
    exe = shutil.which("ssh-keygen")
    if exe is None:
        raise BadInput(_MISSING)
    feed: dict[str, Any] = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        proc = subprocess.run([exe, *args], capture_output=True, timeout=TIMEOUT,
                              env={**os.environ, "SSH_ASKPASS_REQUIRE": "never", "TZ": "UTC"},
                              start_new_session=True, check=False, **feed)
    except subprocess.TimeoutExpired:
        raise error(f"ssh-keygen did not finish {doing} within {TIMEOUT:g} s (a security key "
                    "waiting for a touch?): retry") from None
    except OSError as exc:
        raise BadInput(f"ssh-keygen could not be run ({exc.strerror}): {_MISSING}") from None
    if proc.returncode != 0 and b"option -- Y" in proc.stderr:  # "unknown/illegal option -- Y"
        raise BadInput(_MISSING.replace("not found", "is too old"))
    return proc


def _check_key(key: Path, what: str) -> None:
    """Refuse a key path that is not a readable file before ssh-keygen words it worse."""
    name = _path(key)
    if not key.exists():
        raise BadInput(f"{what} {name} does not exist", hint=_NEW_KEY)
    if not key.is_file():
        raise BadInput(f"{what} {name} is not a file", hint=_NEW_KEY)
    if not os.access(key, os.R_OK):
        raise BadInput(f"{what} {name} cannot be read (permission denied)", hint=_NEW_KEY)


def _key_error(key: Path, what: str, stderr: bytes) -> BadInput:
    """ssh-keygen's refusal of a key file, in plain words and with what to do."""
    name, said = _path(key), " ".join(_lines(stderr))
    if "passphrase" in said:
        return BadInput(f"{what} {name} is passphrase-protected and not in ssh-agent",
                        hint=f"add it with ssh-add (and set SSH_AUTH_SOCK), or {_NEW_KEY}")
    if "No private key found for public key" in said:
        return BadInput(f"{what} {name} is a public key whose private key is not in ssh-agent",
                        hint=f"add the private key with ssh-add (and set SSH_AUTH_SOCK), or {_NEW_KEY}")
    if "UNPROTECTED PRIVATE KEY FILE" in said or "bad permissions" in said:
        return BadInput(f"{what} {name} can be read by others, so ssh-keygen refuses it",
                        hint=f"chmod 600 {shlex.quote(os.fspath(key))}")
    if "load public key" in said or "not a public key file" in said or "invalid format" in said:
        return BadInput(f"{what} {name} is not an SSH key file", hint=_NEW_KEY)
    last = (_lines(stderr) or ["no message"])[-1][:200]
    return BadInput(f"ssh-keygen refused {what} {name}: {last}", hint=_NEW_KEY)


def sign(content: bytes, key: Path) -> str:
    """The armored SSH signature ("-----BEGIN SSH SIGNATURE-----…") of `content` by `key`:
    a private key file, or a public key file (`.pub`) whose private key is in ssh-agent."""
    _check_key(key, "signing key")
    with tempfile.TemporaryDirectory(prefix="flowctl-sign-") as tmp:
        data = Path(tmp) / "release"
        data.write_bytes(content)
        proc = _run(["-Y", "sign", "-n", NAMESPACE, "-f", os.fspath(key), os.fspath(data)],
                    "signing", BadInput)
        signature = Path(tmp) / "release.sig"
        if proc.returncode != 0 or not signature.is_file():
            raise _key_error(key, "signing key", proc.stderr)
        return signature.read_text("ascii")


def fingerprint(key: Path) -> str:
    """The `SHA256:…` fingerprint of a private or public key file."""
    _check_key(key, "key")
    proc = _run(["-l", "-E", "sha256", "-f", os.fspath(key)], "reading a key", BadInput)
    found = _FINGERPRINT.search(proc.stdout.decode("ascii", "replace")) if proc.returncode == 0 else None
    if found is None:
        raise _key_error(key, "key", proc.stderr)
    return found.group(1)


def public_key(key: Path) -> str:
    """The `ssh-ed25519 AAAA…` line (type and base64, no comment) of a private or public key
    file: what an allowed_signers line holds after its principals."""
    _check_key(key, "key")
    with key.open("rb") as file:
        head = file.read(MAX_SIGNATURE)
    if b"PRIVATE KEY-----" in head:
        proc = _run(["-y", "-f", os.fspath(key)], "reading a key", BadInput)
        found = _KEY_LINE.search(proc.stdout.decode("ascii", "replace")) if proc.returncode == 0 else None
        if found is None:
            error = _key_error(key, "key", proc.stderr)
            if "passphrase" in error.message:
                error.hint = f"give its public key file instead ({os.fspath(key)}.pub)"
            raise error
    else:
        fingerprint(key)  # ssh-keygen's word that it is a public key file
        found = _KEY_LINE.search(head.decode("ascii", "replace"))
        if found is None:
            raise BadInput(f"key {_path(key)} is not in OpenSSH's one-line form", hint="give its .pub file")
    return f"{found.group(1)} {found.group(2)}"


def _verify_time(at: str) -> str:
    """A flowctl timestamp (`2026-03-15T14:30:00.000Z`) in ssh-keygen's verify-time form
    (`20260315143000Z`, UTC). Fractions round up to the next second, ssh-keygen's resolution,
    so a release made just after a key's valid-before never counts as before it."""
    found = _TIME.match(at)
    try:
        if found is None:
            raise ValueError(at)
        year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
        whole = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        if found.group(7) and int(found.group(7)):
            whole += timedelta(seconds=1)
    except (ValueError, OverflowError):
        raise BadInput(f"time {shown(at)} is not a flowctl timestamp (2026-03-15T14:30:00.000Z, UTC)") from None
    return whole.strftime("%Y%m%d%H%M%SZ")


def check_allowed_signers(path: Path) -> None:
    """Raise IntegrityError unless `path`, the store's allowed_signers file, is a readable file."""
    name = _path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise IntegrityError(f"allowed signers file {name} {what}: set {_SETTING} to a file of "
                             "'principal ssh-ed25519 AAAA…' lines, or restore it from git")
    if not os.access(path, os.R_OK):
        raise IntegrityError(f"allowed signers file {name} cannot be read (permission denied): "
                             f"check its permissions, or fix {_SETTING}")


def _prepare(signature: str, allowed_signers: Path, at: str | None, tmp: str) -> tuple[str, list[str]]:
    """Check the inputs and write the signature to `tmp`: (its path, the verify-time option)."""
    size = len(signature.encode("utf-8", "backslashreplace"))
    if size > MAX_SIGNATURE:
        raise IntegrityError(f"signature is {size} bytes, over the {MAX_SIGNATURE // 1024} KiB limit of a "
                             "release signature: the release record is damaged; restore it from git")
    check_allowed_signers(allowed_signers)
    when = [f"-Overify-time={_verify_time(at)}"] if at is not None else []
    sigfile = Path(tmp) / "release.sig"
    sigfile.write_text(signature, "utf-8", "backslashreplace")
    return os.fspath(sigfile), when


def _first(stderr: bytes, *words: str) -> str | None:
    """The first line ssh-keygen said holding one of `words`, or None."""
    return next((line for line in _lines(stderr) if any(word in line for word in words)), None)


def find_principals(signature: str, allowed_signers: Path, at: str | None = None) -> list[str]:
    """The principals (as allowed_signers spells them) whose key made `signature` and is valid
    at `at` (now when None); [] when none is. An unreadable signature is an IntegrityError."""
    with tempfile.TemporaryDirectory(prefix="flowctl-verify-") as tmp:
        sigfile, when = _prepare(signature, allowed_signers, at, tmp)
        proc = _run(["-Y", "find-principals", "-s", sigfile, "-f", os.fspath(allowed_signers), *when],
                    "finding a signature's principals", IntegrityError)
    if proc.returncode == 0:
        return _lines(proc.stdout)
    broken = _first(proc.stderr, *_UNREADABLE)
    if broken is not None:
        raise IntegrityError(f"signature is not an SSH signature ({broken}): the release record is "
                             "damaged; restore it from git")
    return []


def verify(content: bytes, signature: str, principal: str, allowed_signers: Path,
           at: str | None = None) -> VerifyResult:
    """Whether `signature` is `principal`'s flowctl signature of `content`, by a key that
    allowed_signers lists for `principal` and that was valid at `at` (now when None).

    `ssh-keygen -Y verify` says only "Could not verify signature." on stdout for every
    failure, so a failure is classified by more runs, in this order:
      1. `-Y check-novalidate` (the signature against the content, no allowed_signers):
         "Couldn't parse signature" / "sshsig_armor" → malformed; "namespace does not
         match" → other-namespace (made for git, say); any other failure ("incorrect
         signature") → content-changed.
      2. The content is as signed, so the key is the problem. verify's stderr
         "FILE:N: key has expired: verify time … > valid-before …" or "… key is not yet
         valid …" (printed only for lines of this principal with this key) → not-valid-then;
         "key is not permitted for use in signature namespace" → namespace-refused.
      3. Else `-Y find-principals` at `at`: the key listed for others → unknown-key naming
         them; and should the wording above change, the key listed for `principal` now but
         not at `at` → still not-valid-then; otherwise unknown-key.
    A revoked key (valid-before a date) keeps its earlier releases valid: `at` is the
    release's own time, not now."""
    with tempfile.TemporaryDirectory(prefix="flowctl-verify-") as tmp:
        sigfile, when = _prepare(signature, allowed_signers, at, tmp)
        allowed = os.fspath(allowed_signers)
        proc = _run(["-Y", "verify", "-n", NAMESPACE, "-f", allowed, "-I", principal, "-s", sigfile, *when],
                    "verifying a signature", IntegrityError, stdin=content)
        found = _FINGERPRINT.search(proc.stdout.decode("utf-8", "replace"))
        if proc.returncode == 0 and found:
            return VerifyResult(True, "good", f"good signature by {shown(principal)} with key {found.group(1)}",
                                found.group(1))
        check = _run(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", sigfile],
                     "checking a signature", IntegrityError, stdin=content)
    if check.returncode != 0:
        if (broken := _first(check.stderr, *_UNREADABLE)) is not None:
            return VerifyResult(False, "malformed", f"the signature is not an SSH signature ({broken})", None)
        if _first(check.stderr, "namespace does not match"):
            return VerifyResult(False, "other-namespace", "the signature was made for another use than "
                                f"flowctl releases (not in the {NAMESPACE!r} namespace)", None)
        return VerifyResult(False, "content-changed", "the signature does not match the release: its content "
                            "changed after signing", None)
    key = found.group(1) if (found := _FINGERPRINT.search(check.stdout.decode("utf-8", "replace"))) else None
    whose = f"key {key or '(unknown)'} of {shown(principal)}"
    then = f"at {at}" if at is not None else "now"
    if (expired := _first(proc.stderr, *_NOT_VALID)) is not None:
        return VerifyResult(False, "not-valid-then", f"{whose} was not valid {then} ({expired})", key)
    if (refused := _first(proc.stderr, "not permitted for use in signature namespace")) is not None:
        return VerifyResult(False, "namespace-refused", f"{whose} may not sign flowctl releases ({refused})", key)
    others = find_principals(signature, allowed_signers, at)
    if at is not None and principal not in others and principal in find_principals(signature, allowed_signers):
        return VerifyResult(False, "not-valid-then", f"{whose} was not valid {then}", key)
    listed = f" (it is listed for {', '.join(others)})" if others else ""
    return VerifyResult(False, "unknown-key", f"key {key or '(unknown)'} is not listed for {shown(principal)} "
                        f"in {_path(allowed_signers)}{listed}", key)


"""Every failure flowctl reports, each carrying its exit code from docs/contract.md §6.

The core raises these and never prints or exits; the CLI turns one into a
single stderr line (or one JSON object with --json) and its exit code.
"""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One finding inside a larger error: where (a JSON path or file) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class FlowctlError(Exception):
    """Base of every expected failure; `exit_code` and `code` come from docs/contract.md §6."""

    exit_code = 70
    code = "internal"

    def __init__(self, message: str, problems: list[Problem] | tuple[Problem, ...] = (),
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        # What to do on the command line (a flag to pass, a command to run): the
        # core describes the problem in `message`; the CLI adds `hint` to it.
        self.hint = hint

    def cli_message(self) -> str:
        """The message as the CLI prints it: the problem, then what to do there."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


class BadInput(FlowctlError):
    """Bad input or usage: malformed file, bad name, schema error."""

    exit_code = 2
    code = "bad-input"


class NotFound(FlowctlError):
    """The store, a flow or a version does not exist."""

    exit_code = 3
    code = "not-found"


class Conflict(FlowctlError):
    """rowVersion or expected-version mismatch, duplicate key, already active."""

    exit_code = 4
    code = "conflict"


class InvalidConfig(FlowctlError):
    """The config is not valid for the operation (pipeline errors, no scoring method)."""

    exit_code = 5
    code = "invalid-config"


class Forbidden(FlowctlError):
    """Refused by the store's access policy."""

    exit_code = 6
    code = "forbidden"


class Busy(FlowctlError):
    """The flow's lock could not be taken within --lock-timeout."""

    exit_code = 7
    code = "busy"


class IntegrityError(FlowctlError):
    """The store is damaged: checksum mismatch, gap, unreadable file."""

    exit_code = 8
    code = "integrity"



class StorageError(FlowctlError):
    """The file system refused a write (disk full, read-only, quota, I/O error);
    the operation was taken back, so nothing was changed (sysexits' EX_IOERR)."""

    exit_code = 74
    code = "io-error"


class IncompleteWrite(UserWarning):
    """A change committed, but a step after its commit point failed (a full disk
    while replacing flow.json, say). The change stands, as every reader already
    sees; the next write or `verify --repair` finishes the rest. Issued with
    `warnings.warn`, so the library never prints; the CLI shows it on stderr."""


class Notice(UserWarning):
    """Something a person should know about a write that succeeded (it was
    re-applied on a newer state after its push lost a race, say). Issued with
    `warnings.warn`; the CLI prints it on stderr as `flowctl: note: …`."""


_IO_REASONS = {
    "ENOSPC": ("no space left on device", "free some space and retry"),
    "EDQUOT": ("disk quota exceeded", "free some space or raise the quota, and retry"),
    "EROFS": ("read-only file system", "use a store on a writable file system"),
    "EACCES": ("permission denied", "check the permissions of the store's files"),
    "EPERM": ("operation not permitted", "check the permissions of the store's files"),
    "EFBIG": ("file too large", "check the file system's limits"),
}


def io_reason(exc: OSError) -> tuple[str, str]:
    """(what went wrong, what to do) for an OSError, in plain words."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    default = ((exc.strerror or "I/O error").lower(), "retry; if it persists, check the disk")
    return _IO_REASONS.get(name, default)


def storage_error(exc: OSError, where: object, changed: bool = False) -> StorageError:
    """StorageError for `exc` met while writing `where`; `changed` False means
    the operation was taken back and the message says so."""
    reason, advice = io_reason(exc)
    outcome = "" if changed else ": nothing was changed"
    return StorageError(f"{reason} writing {where}{outcome}; {advice}")

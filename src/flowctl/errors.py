"""Every failure flowctl reports, each carrying its exit code from SPEC §6.

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
    """Base of every expected failure; `exit_code` and `code` come from SPEC §6."""

    exit_code = 70
    code = "internal"

    def __init__(self, message: str, problems: list[Problem] | tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


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

"""The allow-list for every name that becomes a path: flow keys, ids, tenants.

Names are checked here and refused, never normalised: a key is a directory
name, so anything that could escape the store (``..``, ``/``, ``\\``, NUL,
absolute paths, upper case) is bad input (exit 2) before any file is touched.
"""

from __future__ import annotations

import os
import re

from .errors import BadInput

# 1–N chars of a-z 0-9 . _ -, starting with a letter or digit (docs/contract.md §2).
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
KEY_MAX = 255
TENANT_MAX = 63


def _check(kind: str, value: str, max_len: int) -> str:
    if not value:
        raise BadInput(f"{kind} must not be empty: use 1-{max_len} characters of a-z 0-9 . _ -")
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > max_len:
        raise BadInput(f"{kind} {shown!r} is {len(value)} characters long: the limit is {max_len}")
    if not _NAME.match(value) or ".." in value:
        raise BadInput(
            f"{kind} {shown!r} is not allowed: use a-z 0-9 . _ -, start with a letter or digit, "
            "and no '..'"
        )
    return value


def check_key(value: str) -> str:
    """Return `value` if it is a valid flow key, else raise BadInput."""
    return _check("flow key", value, KEY_MAX)


def check_id(value: str) -> str:
    """Return `value` if it is a valid flow id, else raise BadInput."""
    return _check("flow id", value, KEY_MAX)


def check_tenant(value: str) -> str:
    """Return `value` if it is a valid tenant name, else raise BadInput."""
    return _check("tenant", value, TENANT_MAX)


def is_name(value: str) -> bool:
    """Tell whether `value` passes the key rules (used to skip stray entries)."""
    return bool(value) and len(value) <= KEY_MAX and bool(_NAME.match(value)) and ".." not in value


def new_id(tenant: str, key: str, taken: set[str]) -> str:
    """flow_ + 12 hex chars; derived from SOURCE_DATE_EPOCH when it is set, so
    reproducible runs write byte-identical files."""
    import hashlib

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        salt = 0
        while True:
            digest = hashlib.sha256(f"{epoch}/{tenant}/{key}/{salt}".encode()).hexdigest()[:12]
            if f"flow_{digest}" not in taken:
                return f"flow_{digest}"
            salt += 1
    while True:
        candidate = f"flow_{os.urandom(6).hex()}"
        if candidate not in taken:
            return candidate

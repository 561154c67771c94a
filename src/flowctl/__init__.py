"""flowctl: versioned decision flows in a file-backed, git-friendly store.

Reading a store from Python (README, "Using flowctl from Python")::

    import flowctl

    store = flowctl.open_store()           # as the CLI finds it: path, $FLOWCTL_STORE, nearest flowctl.toml
    flow = store.get("credit-card-nba")    # key or id; flowctl.NotFound (exit_code 3) when absent
    config = flow.config("active")

The names below are imported on first use, so `import flowctl` (and
`flowctl --version`) costs no more than this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import Flow, Store, open_store
    from .errors import (
        BadInput,
        Busy,
        Conflict,
        FlowctlError,
        Forbidden,
        IntegrityError,
        InvalidConfig,
        NotFound,
        StorageError,
    )

_LAZY = {
    "open_store": "api",
    "Store": "api",
    "Flow": "api",
    **dict.fromkeys(
        ("FlowctlError", "BadInput", "NotFound", "Conflict", "InvalidConfig", "Forbidden", "Busy",
         "IntegrityError", "StorageError"),
        "errors",
    ),
}

__all__ = [
    "BadInput",
    "Busy",
    "Conflict",
    "Flow",
    "FlowctlError",
    "Forbidden",
    "IntegrityError",
    "InvalidConfig",
    "NotFound",
    "StorageError",
    "Store",
    "__version__",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy ones included."""
    return sorted({*globals(), *__all__})

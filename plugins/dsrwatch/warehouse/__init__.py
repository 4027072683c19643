"""The warehouse: which PostgreSQL, how to connect, and keeping its schema current.

Names load on first use, so importing a submodule (``warehouse.tables``) does not load psycopg.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"connect": "connection", "describe_location": "connection", "resolve_url": "connection",
            "ensure_schema": "schema"}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

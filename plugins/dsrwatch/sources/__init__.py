"""One module per public source; a module here that defines ``SOURCE`` is a source.

The source's name is its module name (and its DAG id). Discovery reads file names only, so DAG
files can list the sources (e.g. for Asset schedules) without importing them.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

_NOT_SOURCES = {"base"}


def source_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in _NOT_SOURCES)


def get_source(name: str) -> ModuleType:
    if name not in source_names():
        raise KeyError(f"unknown source {name!r}; known: {', '.join(source_names())}")
    return importlib.import_module(f"{__name__}.{name}")
